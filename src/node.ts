/**
 * One node: store → services → aedes broker → HTTP API, wired together; close() undoes it in
 * reverse. Tests start nodes with this on port 0; main.ts starts one from the environment.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'
import type { Store } from './store/store.js'
import { SqliteStore } from './store/sqlite.js'
import { MongoStore } from './store/mongo.js'
import { startBroker, type Broker, type ConnInfo } from './broker/broker.js'
import { createSqlitePersistence } from './broker/sqlite-persistence.js'
import { createMongoPersistence } from './broker/mongo-persistence.js'
import { mongoStoredSessions, type StoredSession } from './broker/stored-sessions.js'
import { Alarms } from './services/alarms.js'
import { BannedService } from './services/banned.js'
import { UsersService } from './services/users.js'
import { Plugins } from './services/plugins.js'
import { Settings } from './services/settings.js'
import { StoreHealth } from './services/store-health.js'
import type { PublishMessage } from './services/publish.js'
import { LocalNode } from './cluster/local-node.js'
import { SingleNodeCluster } from './cluster/cluster.js'
import { createApp } from './api/app.js'
import { findUp } from './package-root.js'

export const VERSION: string = (JSON.parse(readFileSync(findUp('package.json'), 'utf8')) as { version: string }).version

export interface RunningNode {
  config: Config
  broker: Broker
  store: Store
  log: Logger
  ports: { mqtt: number, ws: number | null, tls: number | null, api: number }
  close (): Promise<void>
}

export function openStore (config: Config): Store {
  return config.mongodbUrl ? new MongoStore({ url: config.mongodbUrl }) : new SqliteStore({ dataDir: config.dataDir })
}

const MQTT_COLLECTION_PREFIX = 'mqtt_'

interface MqttPersistence {
  persistence: unknown
  storedSessions: () => Promise<StoredSession[]>
  close: () => Promise<void>
}

/** The MQTT session state lives beside the store: aedes-persistence-mongodb, or SQLite under DATA_DIR. */
async function openMqttPersistence (store: Store, config: Config): Promise<MqttPersistence> {
  if (store instanceof MongoStore) {
    const db = store.database
    return {
      persistence: createMongoPersistence(db, MQTT_COLLECTION_PREFIX),
      storedSessions: () => mongoStoredSessions(db, MQTT_COLLECTION_PREFIX),
      close: async () => {}
    }
  }
  const p = await createSqlitePersistence({ dataDir: config.dataDir })
  return { persistence: p, storedSessions: async () => p.storedSessions(), close: async () => { p.close() } }
}

/** [MQTT-3.2.2-3] CONNACK return codes used by the hooks. */
const CONNACK = { IDENTIFIER_REJECTED: 2, NOT_AUTHORIZED: 5 } as const

export async function startNode (config: Config, log: Logger = pino({ level: config.logLevel })): Promise<RunningNode> {
  const startedAt = Date.now()
  const store = openStore(config)
  await store.init()
  const alarms = new Alarms((id, raised) => log.warn({ alarm: id, raised }, raised ? 'alarm raised' : 'alarm cleared'))
  let broker: Broker | null = null
  const settings = new Settings(store, config.nodeName, (key) => {
    // publish decisions are cached per client and topic (clean_acl_cache); a new limit voids them
    if (key === 'mqtt.max_topic_levels') for (const c of broker?.registry.connections() ?? []) broker?.cleanAclCache(c.clientId)
  })
  const plugins = new Plugins(store, config.nodeName, VERSION)
  await settings.start()
  await plugins.start()

  const banned = new BannedService(store, async (matches) => {
    for (const c of broker?.registry.connections() ?? []) {
      if (matches(identity(c))) broker?.kickout(c.clientId)
    }
  })
  await banned.start()
  const users = new UsersService(store, alarms)
  await users.start()
  const health = new StoreHealth(store, alarms, log)
  health.start()

  /** the retainer keeps a retained message only while loaded and within its limits */
  const keepRetained = (payload: Buffer): boolean =>
    plugins.isActive('emqx_retainer') && payload.length <= settings.number('retainer.max_payload_size')

  const mqtt = await openMqttPersistence(store, config)
  broker = await startBroker({
    persistence: mqtt.persistence,
    storedSessions: mqtt.storedSessions,
    nodeName: config.nodeName,
    host: config.host,
    mqttPort: config.mqttPort,
    wsPort: config.wsPort,
    tls: config.tls ?? undefined,
    maxConns: config.maxConns,
    trustProxy: config.trustProxy,
    log,
    hooks: {
      async authenticate (c) {
        if (c.clientId.length > settings.number('mqtt.max_clientid_len')) return CONNACK.IDENTIFIER_REJECTED
        if (banned.isBanned(identity(c))) return CONNACK.NOT_AUTHORIZED
        if (!settings.bool('mqtt.allow_anonymous')) return CONNACK.NOT_AUTHORIZED
        return 0
      },
      authorizePublish (_clientId, topic) {
        const max = settings.number('mqtt.max_topic_levels')
        return max === 0 || topic.split('/').length <= max
      },
      keepRetained: (_topic, payload) => keepRetained(payload)
    }
  })
  const running = broker

  const publish = async (m: PublishMessage): Promise<void> => {
    await running.publish({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, clientId: m.clientId })
  }

  let server: Server | null = null
  const local = new LocalNode({
    broker,
    alarms,
    plugins,
    settings,
    version: VERSION,
    startedAt,
    httpListeners: () => server ? [httpListener(server, config.apiPort, httpConns)] : []
  })
  const cluster = new SingleNodeCluster(local)
  const app = createApp({ cluster, store, banned, users, publish }, {
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    validateResponses: config.validateResponses,
    log: log.child({ component: 'api' }),
    status: async () => {
      const ok = await health.check()
      return { code: ok ? 200 : 503, body: { node: config.nodeName, status: 'running', store: ok ? 'ok' : 'unavailable' } }
    }
  })
  server = createServer(app)
  const http = server
  let httpConns = 0
  http.on('connection', (socket) => {
    httpConns++
    socket.once('close', () => { httpConns-- })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.apiPort, config.host, () => { http.off('error', reject); resolve() })
  })
  const ports = { ...broker.ports, api: (http.address() as AddressInfo).port }
  log.info({ node: config.nodeName, ports, store: store.kind }, 'node started')

  return {
    config,
    broker,
    store,
    log,
    ports,
    async close () {
      // stop taking requests, let in-flight ones finish, then the broker, then the store
      await new Promise<void>(resolve => {
        http.close(() => resolve())
        http.closeIdleConnections()
      })
      banned.stop()
      health.stop()
      await running.close()
      await mqtt.close()
      await store.close()
      log.info({ node: config.nodeName }, 'node stopped')
    }
  }
}

function identity (c: ConnInfo): { clientId: string, username: string | null, ip: string | null } {
  return { clientId: c.clientId, username: c.username, ip: c.ipaddress }
}

function httpListener (server: Server, port: number, current: number): import('./api/types.js').ListenerWire {
  const addr = server.address() as AddressInfo | null
  return {
    acceptors: 1,
    current_conns: current,
    listen_on: String(addr?.port ?? port),
    max_conns: Number.isFinite(server.maxConnections) ? server.maxConnections : 0,
    protocol: 'http:management',
    shutdown_count: []
  }
}
