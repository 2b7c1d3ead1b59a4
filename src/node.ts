/**
 * One node: store → services → aedes broker → HTTP API, wired together; close() undoes it in
 * reverse. Tests start nodes with this on port 0; main.ts starts one from the environment.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'
import type { Store } from './store/store.js'
import { SqliteStore } from './store/sqlite.js'
import { MongoStore } from './store/mongo.js'
import { startBroker, type Broker, type SharedStrategy } from './broker/broker.js'
import type { PersistenceLayer } from './broker/persistence.js'
import { identity, policyHooks } from './broker/policy.js'
import { Cleanup } from './core/cleanup.js'
import { createSqlitePersistence } from './broker/sqlite-persistence.js'
import { createMongoPersistence } from './broker/mongo-persistence.js'
import { mongoStoredSessions, type StoredSession } from './broker/stored-sessions.js'
import { Alarms, AlarmMonitor } from './services/alarms.js'
import { BannedService } from './services/banned.js'
import { AclService } from './services/acl.js'
import { UsersService } from './services/users.js'
import { Plugins } from './services/plugins.js'
import { AppsService } from './services/apps.js'
import { Settings, coreSettings } from './services/settings.js'
import { StoreHealth } from './services/store-health.js'
import { AuditLog, AUDIT_MAX_RECORDS, auditSettings } from './services/audit.js'
import { Health } from './services/health.js'
import { LiveEvents } from './services/events.js'
import { DataTransfer, type RetainedItem } from './services/data-transfer.js'
import { AlarmHistory } from './services/alarm-history.js'
import { PROMETHEUS_SETTINGS } from './services/prometheus.js'
import type { PublishMessage } from './services/publish.js'
import { dashboard, management, type Plugin, type PluginContext } from './plugins/plugin.js'
import { Retainer } from './plugins/retainer.js'
import { DelayedPublish } from './plugins/delayed-publish.js'
import { AuthPlugin } from './plugins/auth.js'
import { BrokerEvents } from './plugins/events.js'
import { WebHook, type WebHookOptions } from './plugins/web-hook.js'
import { LocalNode } from './cluster/local-node.js'
import { SingleNodeCluster } from './cluster/cluster.js'
import { Clustering } from './cluster/setup.js'
import { eventChannel, observeReceivers } from './cluster/bus.js'
import { packetRate } from './api/loop-share.js'
import type { ClientIdentity } from './services/banned.js'
import { createApp } from './api/app.js'
import { handleClientError } from './api/client-error.js'
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

export function openStore (config: Config, log?: Logger): Store {
  if (!config.mongodbUrl) return new SqliteStore({ dataDir: config.dataDir })
  return new MongoStore({
    url: config.mongodbUrl,
    initRetries: config.mongodbInitRetries,
    onInitRetry: (attempt, of, err) => log?.warn({ attempt, of, err: err.message }, 'MongoDB unreachable at start, retrying'),
    onMonitorRestart: (client, err) => {
      if (err === undefined) log?.warn({ client }, 'MongoDB client reconnected: its server monitor had hung')
      else log?.warn({ client, err: String(err) }, 'MongoDB client whose server monitor hung: reconnecting')
    }
  })
}

const MQTT_COLLECTION_PREFIX = 'mqtt_'

interface MqttPersistence {
  persistence: unknown
  storedSessions: () => Promise<StoredSession[]>
  /** retained messages held in the store (every node's, when shared) */
  retainedCount?: () => Promise<number>
  close: () => Promise<void>
}

/** The MQTT session state lives beside the store: aedes-persistence-mongodb, or SQLite under DATA_DIR. */
async function openMqttPersistence (store: Store, config: Config, log: Logger): Promise<MqttPersistence> {
  if (store instanceof MongoStore) {
    const db = store.sessionDatabase
    return {
      persistence: createMongoPersistence(db, MQTT_COLLECTION_PREFIX, (err) => { log.warn({ err: String(err) }, 'acknowledged messages could not be removed from their queue: they will be sent again') }),
      storedSessions: () => mongoStoredSessions(db, MQTT_COLLECTION_PREFIX),
      retainedCount: async () => await db.collection(`${MQTT_COLLECTION_PREFIX}retained`).countDocuments(),
      close: async () => {}
    }
  }
  const p = await createSqlitePersistence({ dataDir: config.dataDir })
  return { persistence: p, storedSessions: async () => p.storedSessions(), close: async () => { p.close() } }
}

/** the store's namespace of v5 sessions' expiry while their clients are away (src/broker/session-expiry.ts) */
const SESSION_EXPIRY_NS = 'mqtt.session_expiry'

const NODELAY_KEYS = [['listener.tcp.external.nodelay', 'mqtt:tcp'], ['listener.ssl.external.nodelay', 'mqtt:ssl'], ['listener.ws.external.nodelay', 'mqtt:ws']] as const

/** MQTT packets a second (in and out) from which the API is held to API_LOOP_SHARE: a few percent of one core */
const BUSY_PACKETS_PER_SEC = 2000

/** Timings tests shorten; production uses the defaults. */
export interface NodeOptions {
  /** how often resource alarms (high_memory, listener_near_max_conns) are checked; default 5000 ms */
  alarmCheckMs?: number
  /** how often expired retained messages are removed; default 1000 ms */
  retainerSweepMs?: number
  webHook?: WebHookOptions
}

export async function startNode (config: Config, log: Logger = pino({ level: config.logLevel }), opts: NodeOptions = {}): Promise<RunningNode> {
  const startedAt = Date.now()
  // everything acquired from here on is undone in reverse, by close() or by a start that fails
  const cleanup = new Cleanup()
  const store = openStore(config, log)
  try {
    await store.init()
  } catch (err) {
    await store.close().catch(() => {})
    throw new Error(config.mongodbUrl
      ? `MongoDB at MONGODB_URL cannot be reached (${(err as Error).message}); check the URL and that the server is up`
      : `the embedded store under DATA_DIR=${config.dataDir} cannot be opened: ${(err as Error).message}`, { cause: err })
  }
  cleanup.add(() => store.close())
  try {
    return await startOnStore(config, log, opts, store, startedAt, cleanup)
  } catch (err) {
    return await cleanup.abort(err)
  }
}

async function startOnStore (config: Config, log: Logger, opts: NodeOptions, store: Store, startedAt: number, cleanup: Cleanup): Promise<RunningNode> {
  // a cluster node joins first: an unreachable bus or a name in use refuses the start
  const clustering = config.cluster
    ? await Clustering.open({ config: config.cluster, nodeName: config.nodeName, host: config.host, apiPort: config.apiPort, version: VERSION, startedAt, store, log })
    : null
  // leaves the cluster and closes the bus (which a running broker closes first: then a no-op)
  if (clustering !== null) cleanup.add(() => clustering.abort())
  const alarms = new Alarms((id, raised) => log.warn({ alarm: id, raised }, raised ? 'alarm raised' : 'alarm cleared'))
  let broker: Broker | null = null
  const settings = new Settings(store, config.nodeName, [...coreSettings(config.maxConns), ...auditSettings])

  // plugins: one module each (src/plugins/), their settings declared next to them
  const ctx: PluginContext = {
    node: config.nodeName,
    store,
    settings,
    alarms,
    log: log.child({ component: 'plugins' }),
    broker: () => { if (broker === null) throw new Error('broker not started'); return broker },
    isActive: (name) => plugins.isActive(name)
  }
  const events = new BrokerEvents(config.nodeName)
  const live = new LiveEvents(config.nodeName)
  const retainer = new Retainer(ctx, opts.retainerSweepMs)
  const delayed = new DelayedPublish(ctx)
  const authUsername = new AuthPlugin(ctx, 'username')
  const authClientid = new AuthPlugin(ctx, 'clientid')
  const webHook = new WebHook(ctx, events, opts.webHook)
  const all: Plugin[] = [dashboard, management, retainer, delayed, authUsername, authClientid, webHook]
  const plugins = new Plugins(store, config.nodeName, VERSION, all)
  for (const p of all) settings.declare(p.settings ?? [])
  settings.declare(PROMETHEUS_SETTINGS)
  let monitor: AlarmMonitor | null = null
  // read for every packet header: kept in a variable, refreshed when the setting changes
  let maxPacketSize = 0
  settings.onChange((key) => {
    if (key === 'mqtt.max_packet_size') maxPacketSize = settings.number(key)
    // decisions are cached per client and topic (clean_acl_cache); what they were made under voids them
    if (key === 'mqtt.max_topic_levels' || key === 'mqtt.acl_nomatch' || key === 'mqtt.acl_deny_action') broker?.cleanAllAclCaches()
    if (key === 'listener.tcp.external.max_connections') broker?.setMaxConns('mqtt:tcp', settings.number(key))
    const nodelay = NODELAY_KEYS.find(([k]) => k === key)
    if (nodelay !== undefined) broker?.setNoDelay(nodelay[1], settings.bool(key))
    if (key === 'sysmon.memory_high_watermark' || key === 'listener.tcp.external.max_connections') monitor?.check()
  })
  await settings.start()
  maxPacketSize = settings.number('mqtt.max_packet_size')
  await plugins.restore()

  const kickBanned = async (matches: (c: ClientIdentity) => boolean): Promise<void> => {
    for (const c of broker?.registry.connections() ?? []) {
      if (matches(identity(c))) broker?.kickout(c.clientId, 'banned')
    }
  }
  const banned = clustering?.banned(kickBanned) ?? new BannedService(store, kickBanned)
  await banned.start()
  cleanup.add(() => { banned.stop() })
  // new rules void every decision cached under the old ones
  const aclChanged = (): void => { broker?.cleanAllAclCaches() }
  const acl = clustering?.acl(settings, aclChanged) ?? new AclService(store, settings, aclChanged)
  await acl.start()
  cleanup.add(() => { acl.stop() })
  const users = new UsersService(store, alarms)
  await users.start()
  const health = new StoreHealth(store, alarms, log)
  health.start()
  cleanup.add(() => { health.stop() })
  const audit = new AuditLog(store, config.nodeName, () => settings.number(AUDIT_MAX_RECORDS), log.child({ component: 'audit' }))
  // undone after the HTTP server closed (added later): its last answers are written before the store closes
  cleanup.add(() => audit.stop())
  const alarmHistory = new AlarmHistory(store, config.nodeName, log)
  alarmHistory.start(alarms)
  cleanup.add(() => alarmHistory.stop())

  const mqtt = await openMqttPersistence(store, config, log)
  cleanup.add(() => mqtt.close())
  const policy = policyHooks({
    // while the store is known down, each CONNECT waits for the one check under way (≤ the store's 3 s timeout)
    storeAvailable: async () => await health.current(),
    maxClientIdLen: () => settings.number('mqtt.max_clientid_len'),
    isBanned: (c) => banned.isBanned(c),
    authenticators: [
      async (_c, username, password) => await authUsername.check(username, password),
      async (c, _username, password) => await authClientid.check(c.clientId, password)
    ],
    allowAnonymous: () => settings.bool('mqtt.allow_anonymous'),
    maxTopicLevels: () => settings.number('mqtt.max_topic_levels'),
    acl: (c, action, topic) => acl.check(c, action, topic),
    aclDenyAction: () => settings.string('mqtt.acl_deny_action') === 'disconnect' ? 'disconnect' : 'ignore'
  })
  const sharedBus = clustering !== null ? await clustering.sharedBus() : undefined
  if (sharedBus !== undefined) cleanup.add(() => { sharedBus.close() })
  broker = await startBroker({
    sharedStrategy: () => settings.string('broker.shared_subscription_strategy') as SharedStrategy,
    sharedBus,
    persistence: mqtt.persistence,
    persistenceLayers: [retainer.layer as PersistenceLayer],
    storedSessions: clustering?.storedSessions(mqtt.storedSessions) ?? mqtt.storedSessions,
    sessionExpiries: {
      all: async () => await store.kv.all(SESSION_EXPIRY_NS),
      set: async (clientId, expiry) => { await store.kv.set(SESSION_EXPIRY_NS, clientId, expiry) },
      delete: async (clientId) => await store.kv.delete(SESSION_EXPIRY_NS, clientId)
    },
    mq: clustering?.bus,
    busReceivers: clustering !== null ? fn => { observeReceivers(clustering.bus, fn) } : undefined,
    retainedCount: clustering !== null ? mqtt.retainedCount : undefined,
    nodeName: config.nodeName,
    host: config.host,
    mqttPort: config.mqttPort,
    wsPort: config.wsPort,
    tls: config.tls ?? undefined,
    maxConns: config.maxConns,
    maxPacketSize: () => maxPacketSize,
    serverKeepAlive: () => settings.number('mqtt.server_keepalive'),
    maxAwaitingRel: config.maxAwaitingRel,
    topicAliasMaximum: config.maxTopicAlias,
    ...config.responseInformation !== null ? { responseInformation: responseInformationFor(config.responseInformation) } : {},
    connectTimeout: config.connectTimeout * 1000,
    maxMqueue: config.maxMqueue,
    slowConsumer: config.slowConsumer,
    trustProxy: config.trustProxy,
    log,
    hooks: {
      ...policy,
      // a $delayed/... message is judged when it is published to its real topic
      keepRetained: (topic, payload) => topic.startsWith('$delayed/') || retainer.keep(topic, payload),
      publish (clientId, msg) {
        if (delayed.intercept(clientId, msg)) return true
        events.published(clientId, msg)
        return false
      },
      delivered: (clientId, msg) => { events.delivered(clientId, msg) },
      disconnected: (c, reason) => {
        live.emit('client.disconnected', { reason: DISCONNECT_REASONS[reason] ?? reason, shutdown_reason: reason }, { clientid: c.clientId, username: c.username })
      }
    }
  })
  const running = broker
  cleanup.add(() => running.close())
  await retainer.load()
  events.attach(running)
  const stopFeeding = await feedLiveEvents(live, { events, broker: running, banned, alarms, settings, clustering })
  running.setMaxConns('mqtt:tcp', settings.number('listener.tcp.external.max_connections'))
  for (const [key, protocol] of NODELAY_KEYS) running.setNoDelay(protocol, settings.bool(key))
  // before they start: one that fails to start leaves the others stopped too
  cleanup.add(() => plugins.stopAll())
  await plugins.startActive()
  const alarmMonitor = new AlarmMonitor(alarms, {
    watermark: () => settings.number('sysmon.memory_high_watermark'),
    rss: () => process.memoryUsage.rss(),
    totalMemory: totalmem,
    listeners: () => running.listeners()
  }, opts.alarmCheckMs)
  monitor = alarmMonitor
  alarmMonitor.start()
  cleanup.add(() => { alarmMonitor.stop() })

  const publish = (m: PublishMessage): Promise<void> => running.publish(m)

  const dataTransfer = new DataTransfer({
    node: config.nodeName,
    store,
    settings,
    plugins,
    banned,
    acl,
    // the cluster is joined below, before the API (and so any import) starts
    peers: async () => (await cluster.nodes()).filter(n => n.name !== config.nodeName),
    log: log.child({ component: 'data' }),
    retained: {
      list: async () => await retainedMessages(running),
      put: async (m) => { await publish({ topic: m.topic, payload: Buffer.from(m.payload, 'base64'), qos: m.qos, retain: true, clientId: 'data_import' }) }
    }
  })

  let server: Server | null = null
  const local = new LocalNode({
    broker,
    alarms,
    alarmHistory,
    plugins,
    settings,
    retained: retainer,
    version: VERSION,
    startedAt,
    httpListeners: () => server ? [httpListener(server, config.apiPort, httpConns)] : [],
    auditCounts: () => audit.stats()
  })
  const joined = clustering?.attach(local, broker, mqtt.storedSessions)
  const cluster = joined?.cluster ?? new SingleNodeCluster(local)
  const nodeHealth = new Health({
    node: config.nodeName,
    version: VERSION,
    storeKind: store.kind,
    store: health,
    listeners: () => {
      const api = server === null ? [] : [{ ...httpListener(server, config.apiPort, httpConns), listening: server.listening }]
      return [
        ...running.listeners().map(l => ({ protocol: l.protocol, listen_on: l.listenOn, listening: l.listening, current_conns: l.currentConns, max_conns: l.maxConns })),
        ...api.map(l => ({ protocol: l.protocol, listen_on: l.listen_on, listening: l.listening, current_conns: l.current_conns, max_conns: l.max_conns }))
      ]
    },
    members: joined === undefined
      ? null
      : async () => {
        const up = new Set((await cluster.nodes()).map(n => n.name))
        return (await cluster.members()).map(m => ({ name: m.name, live: up.has(m.name) }))
      },
    alarms: () => alarms.list()
  })
  const app = createApp({ cluster, store, banned, acl, users, apps: new AppsService(store), publish, audit, alarmHistory, events: live, dataTransfer }, {
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    validateResponses: config.validateResponses,
    loopShare: { share: config.loopShare, busy: packetRate(() => running.metrics.packets(), BUSY_PACKETS_PER_SEC) },
    internal: joined?.internal,
    openAccess: op => op === 'prometheus_stats' && !settings.bool('prometheus.auth'),
    log: log.child({ component: 'api' }),
    health: nodeHealth
  })
  server = createServer(app)
  // answers a malformed or oversized request head with JSON and a clean close, not a bare reset
  server.on('clientError', handleClientError)
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
  // stop taking requests, and let in-flight ones finish
  cleanup.add(() => new Promise<void>(resolve => {
    http.close(() => resolve())
    http.closeIdleConnections()
  }))
  // before the HTTP server closes: open event streams would hold it open
  cleanup.add(() => { stopFeeding(); live.close() })
  const ports = { ...broker.ports, api: (http.address() as AddressInfo).port }
  await clustering?.start(ports.api)
  // leave the cluster first (peers stop asking), then the rest in reverse
  if (clustering !== null) cleanup.add(() => clustering.stop())
  nodeHealth.state = 'running'
  log.info({ node: config.nodeName, ports, store: store.kind }, 'node started')

  return {
    config,
    broker,
    store,
    log,
    ports,
    async close () {
      // readiness answers 503 from here on: orchestrators stop sending traffic while we drain
      nodeHealth.state = 'draining'
      await cleanup.run()
      log.info({ node: config.nodeName }, 'node stopped')
    }
  }
}

/** the broker's close reasons (EMQ X shutdown counts) as the event stream names them */
const DISCONNECT_REASONS: Record<string, string> = {
  closed: 'normal',
  kicked: 'kicked',
  banned: 'banned',
  takeover: 'taken_over',
  keepalive_timeout: 'keepalive_timeout',
  slow_consumer: 'slow_consumer',
  error: 'protocol_error',
  tcp_closed: 'tcp_closed',
  shutdown: 'shutdown'
}

/** how often message.dropped reports the drops counted since its last report */
const DROPPED_SAMPLE_MS = 1000
const EVENTS_CHANNEL = 'emqx-api:live-events'

interface EventSources {
  events: BrokerEvents
  broker: Broker
  banned: BannedService
  alarms: Alarms
  settings: Settings
  clustering: Clustering | null
}

/** Feeds the live event stream (GET /events) from the broker, the services and cluster membership; returns its stop. */
async function feedLiveEvents (live: LiveEvents, s: EventSources): Promise<() => void> {
  const stops: Array<() => void> = []
  stops.push(s.events.onLifecycle(({ name, body }) => {
    const clientid = String(body.client_id)
    const c = s.broker.registry.connection(clientid)
    const who = { clientid, username: c?.username ?? null }
    if (name === 'client.connected') {
      live.emit('client.connected', c === undefined ? {} : { ipaddress: c.ipaddress, port: c.port, proto_ver: c.protoVer, keepalive: c.keepalive, clean_start: c.cleanStart }, who)
    } else if (name === 'client.subscribe') {
      live.emit('session.subscribed', { topic: body.topic, qos: (body.opts as { qos: number }).qos }, who)
    } else live.emit('session.unsubscribed', { topic: body.topic }, who)
  }))
  // sampled: one event a second at most per counter, with how many were dropped since the last
  const m = s.broker.metrics
  let last = { dropped: m.dropped, qos2: m.qos2Dropped }
  const sampler = setInterval(() => {
    const now = { dropped: m.dropped, qos2: m.qos2Dropped }
    if (now.dropped > last.dropped) live.emit('message.dropped', { counter: 'messages/dropped', count: now.dropped - last.dropped, total: now.dropped })
    if (now.qos2 > last.qos2) live.emit('message.dropped', { counter: 'messages/qos2/dropped', count: now.qos2 - last.qos2, total: now.qos2 })
    last = now
  }, DROPPED_SAMPLE_MS)
  sampler.unref()
  stops.push(() => { clearInterval(sampler) })
  stops.push(s.banned.watch((change, b) => {
    live.emit(change === 'created' ? 'banned.created' : 'banned.deleted', { as: b.as, who: b.who, ...(b.reason !== undefined ? { reason: b.reason, by: b.by, until: b.until } : {}) })
  }))
  stops.push(s.alarms.watch((a, raised, at) => {
    live.emit(raised ? 'alarm.activated' : 'alarm.deactivated', { name: a.id, severity: a.severity, title: a.title, message: a.summary, ...(raised ? {} : { duration: at - a.since }) })
  }))
  s.settings.onChange((key) => {
    const def = s.settings.list().find(d => d.key === key)
    // a secret's value (even hashed) never leaves the node
    live.emit('config.changed', { key, app: def?.app ?? null, ...(def !== undefined && def.datatype !== 'secret' ? { value: def.value } : {}) })
  })
  if (s.clustering !== null) {
    const ch = await eventChannel(s.clustering.bus, EVENTS_CHANNEL, msg => { live.receive(msg) })
    live.connect(ch.publish)
    let known: Set<string> | null = null
    s.clustering.onMembers((names, gone) => {
      if (known !== null) for (const n of names) if (!known.has(n)) live.emit('node.up', { name: n })
      for (const n of gone) live.emit('node.down', { name: n })
      known = new Set(names)
    })
  }
  return () => { for (const stop of stops) stop() }
}

/** Every retained message the broker's persistence holds, outside $SYS (for an export). */
async function retainedMessages (broker: Broker): Promise<RetainedItem[]> {
  const persistence = (broker.aedes as { persistence: { createRetainedStreamCombi: (patterns: string[]) => NodeJS.ReadableStream } }).persistence
  const out: RetainedItem[] = []
  for await (const p of persistence.createRetainedStreamCombi(['#']) as AsyncIterable<{ topic: string, payload: Buffer | string, qos: number }>) {
    if (p.topic.startsWith('$')) continue
    out.push({ topic: p.topic, payload: Buffer.from(p.payload).toString('base64'), qos: Math.min(2, Math.max(0, p.qos)) as 0 | 1 | 2 })
  }
  return out
}

function httpListener (server: Server, port: number, current: number): import('./core/wire.js').ListenerWire {
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

/** MQTT 5 Response Information for one client: the configured text, %c its client id, %u its username */
function responseInformationFor (template: string): (clientId: string, username: string | null) => string {
  return (clientId, username) => template.replaceAll('%c', clientId).replaceAll('%u', username ?? '')
}
