/**
 * One MQTT node: aedes behind TCP / WebSocket / TLS listeners, with the live state (registry,
 * metrics, listeners) the management API reads and the operations it performs on clients.
 */

import { Aedes } from 'aedes'
import type { AedesOptions, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { ConnState, tapConnection } from './conn.js'
import { guardClient, type Guards } from './guard.js'
import { limitMqueue } from './mqueue.js'
import { markRedeliveries } from './redelivery.js'
import type { Peer } from './conn.js'
import { Listener, tcpListener, tlsListener, wsListener } from './listeners.js'
import type { ListenerConfig } from './listeners.js'
import { Metrics } from './metrics.js'
import { purgeSession, retainedTopics, tapPersistence } from './persistence.js'
import type { PersistenceLike } from './persistence.js'
import { Registry } from './registry.js'
import type { Broker } from './handle.js'
import type { BrokerOptions, Logger, Message, PublishRequest, QoS } from './types.js'

export type * from './types.js'
export type { Broker } from './handle.js'
export { Registry } from './registry.js'
export { Metrics } from './metrics.js'

const DEFAULT_MAX_CONNS = 1024000
/** aedes' maxInflightInbound (its default): the QoS 2 receive window, reported as max_awaiting_rel */
const MAX_AWAITING_REL = 1000
const EXPIRY_SWEEP_MS = 30_000
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** EMQ X v3 zone.max_mqueue_len */
const DEFAULT_MAX_MQUEUE = 1000
const DEFAULT_SLOW_CONSUMER = { bytes: 16 * 1024 * 1024, seconds: 5 }
const SYS = '$SYS/'

/** aedes internals this module depends on (present in aedes 1.2, absent from its typings). */
interface AedesClient extends Client {
  subscriptions: Record<string, { qos: number }>
}
interface AedesInternals {
  clients: Record<string, AedesClient | undefined>
  mq: { _matcher?: { match: (topic: string, ...rest: unknown[]) => unknown[] } }
  registerClient: (client: AedesClient) => void
  publish: (packet: object, client: unknown, done?: (err?: Error) => void) => void
}

// aedes-persistence is CommonJS whose typings declare an ESM default export, which TypeScript
// (nodenext) and Node disagree on; require() sidesteps the mismatch
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => unknown

const silent: Logger = { info () {}, warn () {}, error () {} }

export async function startBroker (opts: BrokerOptions): Promise<Broker> {
  const log = opts.log ?? silent
  const hooks = opts.hooks ?? {}
  const metrics = new Metrics()
  const maxMqueue = opts.maxMqueue ?? DEFAULT_MAX_MQUEUE
  const slow = opts.slowConsumer ?? DEFAULT_SLOW_CONSUMER
  const registry = new Registry(opts.nodeName, metrics, { maxAwaitingRel: MAX_AWAITING_REL, maxMqueue })
  const ownPersistence = opts.persistence === undefined
  const persistence = (opts.persistence ?? memoryPersistence()) as PersistenceLike
  const states = new WeakMap<object, ConnState>()
  const stateOf = (client: Client | null | undefined): ConnState | undefined =>
    client == null ? undefined : states.get(client.conn)
  /** packets refused by authorizePublish: acknowledged, never routed */
  const denied = new WeakSet<object>()
  /** topic → pending QoS>0 publishes that reached a stored (possibly offline) session */
  const persisted = new Map<string, number>()
  /** the same, by packet, where the packet published is the one stored (clustered: see busReceivers) */
  const storedPackets = new WeakSet<object>()
  const retained = new Set<string>()
  // retained messages other nodes store too (a cluster): counted in the shared store itself
  const sharedRetained = opts.retainedCount === undefined ? undefined : pollCount(opts.retainedCount, n => { registry.setRetained(n) }, log)
  /** set once the local mqemitter's matcher is observed (one node alone) */
  let countDrops = false
  let closing = false

  tapPersistence(persistence, {
    retained (topic, present) {
      if (sharedRetained !== undefined) return sharedRetained.refresh()
      if (present) retained.add(topic)
      else retained.delete(topic)
      registry.setRetained(retained.size)
    },
    enqueued (clientIds, packet) {
      if (countDrops) persisted.set(packet.topic, (persisted.get(packet.topic) ?? 0) + 1)
      storedPackets.add(packet)
      for (const id of clientIds) {
        const s = registry.liveSession(id)
        // aedes queues for online persistent subscribers too, then delivers at once: only offline ones wait
        if (s !== undefined && !s.connected) {
          s.mqueueLen++
          s.enqueueMsg++
        }
      }
    }
  })

  markRedeliveries(persistence)
  if (maxMqueue > 0) {
    limitMqueue(persistence, {
      full (clientId, pending) {
        const s = registry.liveSession(clientId)
        return s !== undefined && !s.connected && s.mqueueLen + pending >= maxMqueue
      },
      dropped (clientIds, packet, all) {
        for (const id of clientIds) {
          const s = registry.liveSession(id)
          if (s !== undefined) s.mqueueDropped++
          metrics.dropped++
        }
        // nobody got it: keep the matcher below from counting the same message again
        if (all && countDrops) persisted.set(packet.topic, (persisted.get(packet.topic) ?? 0) + 1)
        if (all) storedPackets.add(packet)
      }
    })
  }

  const aedesOpts: AedesOptions = {
    persistence,
    maxInflightInbound: MAX_AWAITING_REL,
    connectTimeout: opts.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    preConnect (client, packet, done) {
      // [MQTT-3.1.2-22]: no password without a user name (MQTT 3.1.1); malformed, so close
      if (packet.password !== undefined && packet.username === undefined) return done(new Error('password flag without user name flag'), false)
      const st = stateOf(client)
      if (st !== undefined) st.connect = snapshot(packet)
      done(null, true)
    },
    authenticate (client, username, password, done) {
      const st = stateOf(client)
      if (st === undefined) return done(null, false)
      const info = st.toInfo(client.id)
      const hook = hooks.authenticate
      // [MQTT-3.1.3-8]: an empty client id needs a clean session, else CONNACK 2 and close
      const emptyId = st.connect?.emptyId === true && st.connect.clean === false
      Promise.resolve().then(() => emptyId ? 2 : hook === undefined ? 0 : hook(info, username, password)).catch((err: unknown) => {
        log.error({ err: String(err), clientId: client.id }, 'authenticate hook failed')
        return 3 // [MQTT-3.2.2-6] Server unavailable
      }).then(async rc => {
        if (rc === 0) {
          st.info = info
          // [MQTT-3.1.2-6] a clean session discards the stored one: its queue in one delete, once the
          // client is authenticated (aedes would clear it message by message after CONNACK)
          const stored = registry.liveSession(client.id)
          if (info.cleanStart && stored !== undefined && !stored.connected && stored.mqueueLen > 0 && persistence.purgeOutgoing !== undefined) {
            await persistence.purgeOutgoing(client.id).catch((err: unknown) => log.warn({ clientId: client.id, err: String(err) }, 'purging the queue of a discarded session failed'))
          }
          return done(null, true)
        }
        st.reason = rc === 4 ? 'bad_username_or_password' : rc === 5 ? 'not_authorized' : 'auth_failure'
        const err = Object.assign(new Error('connection refused'), { returnCode: rc }) as AuthenticateError
        done(err, false)
      }).catch((err: unknown) => log.error({ err: String(err), clientId: client.id }, 'authenticate failed'))
    },
    authorizePublish (client, packet, done) {
      // the frame check closes the connection on the header, but aedes still parses the chunk it read
      if (client !== null && opts.maxPacketSize !== undefined && publishLength(packet) > opts.maxPacketSize()) return done(new Error('packet too large'))
      // decided per message, never cached: it depends on the payload and on live settings
      if (packet.retain && hooks.keepRetained !== undefined && !hooks.keepRetained(packet.topic, toBuffer(packet.payload))) packet.retain = false
      if (client !== null && packet.topic.startsWith(SYS)) {
        // $SYS is the broker's namespace [MQTT-4.7.2]: drop, rather than aedes' disconnect
        denied.add(packet)
        return done(null)
      }
      const hook = hooks.authorizePublish
      if (hook === undefined) {
        if (taken(client, packet)) denied.add(packet)
        return done(null)
      }
      const st = stateOf(client)
      let allow = st?.aclGet(packet.topic)
      if (allow === undefined) {
        try {
          allow = hook(client?.id ?? null, packet.topic, toBuffer(packet.payload), packet.retain)
          st?.aclSet(packet.topic, allow)
        } catch (err) {
          log.error({ err: String(err), topic: packet.topic }, 'authorizePublish hook failed: dropping')
          allow = false // fail closed, and do not cache a failure
        }
      }
      if (!allow || taken(client, packet)) denied.add(packet)
      done(null)
    }
  }
  if (hooks.delivered !== undefined) {
    const delivered = hooks.delivered
    aedesOpts.authorizeForward = (client, packet) => {
      try {
        delivered(client.id, asMessage(packet))
      } catch (err) {
        log.error({ err: String(err) }, 'delivered hook failed')
      }
      return packet
    }
  }
  /** the publish hook took the message (e.g. a delayed publish): acknowledge it, route nothing */
  function taken (client: Client | null, packet: PublishPacket): boolean {
    if (hooks.publish === undefined) return false
    return hooks.publish(client?.id ?? null, asMessage(packet))
  }
  if (opts.mq !== undefined) aedesOpts.mq = opts.mq

  const aedes = await Aedes.createBroker(aedesOpts)
  const internals = aedes as unknown as AedesInternals
  const restoredAt = Date.now()
  for (const s of await opts.storedSessions?.() ?? []) registry.restoreOffline(s.clientId, s.subscriptions, s.queued, restoredAt)

  // a denied publish is still acknowledged by aedes' handler (PUBACK/PUBREC) but goes nowhere
  const publish = internals.publish.bind(aedes)
  internals.publish = (packet, client, done) => {
    if (denied.has(packet)) {
      denied.delete(packet)
      const cb = typeof client === 'function' ? client as () => void : done
      if (cb !== undefined) setImmediate(cb)
      return
    }
    publish(packet, client, done)
  }

  // [MQTT-3.1.4-2]: aedes closes the older connection with the same client id; name the reason
  const register = internals.registerClient.bind(aedes)
  internals.registerClient = (client) => {
    const old = internals.clients[client.id]
    const st = old !== undefined && old !== client ? stateOf(old) : undefined
    if (st !== undefined && st.reason === null) st.reason = 'takeover'
    register(client)
  }

  // messages/dropped: a publish that matched no live subscriber and no stored session
  const matcher = internals.mq._matcher
  if (opts.busReceivers !== undefined) {
    opts.busReceivers((packet, receivers) => {
      const topic = (packet as { topic?: unknown }).topic
      if (receivers === 0 && !storedPackets.has(packet) && typeof topic === 'string' && !topic.startsWith(SYS)) metrics.dropped++
    })
  } else if (matcher !== undefined && typeof matcher.match === 'function') {
    countDrops = true
    const match = matcher.match.bind(matcher)
    matcher.match = (topic, ...rest) => {
      const found = match(topic, ...rest)
      const pending = persisted.size === 0 ? undefined : persisted.get(topic)
      if (pending !== undefined) {
        if (pending > 1) persisted.set(topic, pending - 1)
        else persisted.delete(topic)
      } else if (found.length === 0 && !topic.startsWith(SYS)) {
        metrics.dropped++
      }
      return found
    }
  }

  aedes.on('client', (client) => {
    const st = stateOf(client)
    if (st?.info != null) st.session = registry.connected(st.info)
  })
  aedes.on('clientReady', (client) => {
    const st = stateOf(client)
    if (st?.session == null) return
    // a resumed session was restored from persistence without a 'subscribe' event
    const subs = (client as AedesClient).subscriptions
    registry.resetSubscriptions(client.id, Object.keys(subs).map(t => [t, toQoS(subs[t]?.qos)]))
    // aedes' emptyQueue has written every queued message before clientReady
    st.session.mqueueLen = 0
  })
  aedes.on('clientDisconnect', (client) => {
    const info = stateOf(client)?.info
    if (info != null) registry.disconnected(info, Date.now())
  })
  aedes.on('subscribe', (subs: Subscription[], client) => {
    if (!isCurrent(client)) return
    for (const s of subs) {
      // 0x80 in SUBACK = failure [MQTT-3.9.3]
      if (s.qos <= 2) registry.addSubscription(client.id, s.topic, s.qos)
    }
  })
  aedes.on('unsubscribe', (topics: string[], client) => {
    // the implicit unsubscribe of a closing connection is handled by 'clientDisconnect'
    if (client.closed || !isCurrent(client)) return
    for (const t of topics) registry.removeSubscription(client.id, t)
  })
  aedes.on('keepaliveTimeout', (client) => {
    const st = stateOf(client)
    if (st !== undefined) st.reason ??= 'keepalive_timeout'
  })
  aedes.on('clientError', (client, err) => {
    const st = stateOf(client)
    if (st !== undefined) st.errored = true
    log.info({ clientId: client.id, err: err.message }, 'client error')
  })
  aedes.on('connectionError', (client, err) => {
    const st = stateOf(client)
    if (st === undefined) return
    st.errored = true
    if (err.message === 'connect did not arrive in time') st.reason ??= 'connect_timeout'
  })

  function isCurrent (client: Client): boolean {
    const s = stateOf(client)?.session
    return s != null && registry.liveSession(client.id) === s
  }

  if (sharedRetained !== undefined) await sharedRetained.refresh()
  else {
    for (const topic of await retainedTopics(persistence)) retained.add(topic)
    registry.setRetained(retained.size)
  }

  const guards: Guards = {
    maxPacketSize: opts.maxPacketSize,
    slowBytes: slow.bytes,
    slowSeconds: slow.seconds,
    onSlow: (client) => { const st = stateOf(client as Client); if (st !== undefined) st.reason ??= 'slow_consumer' },
    onDrop: () => { metrics.dropped++ },
    onOversize: (client) => { const st = stateOf(client as Client); if (st !== undefined) st.errored = true }
  }
  const onConnection = (stream: Duplex, listener: Listener, peer: Peer, req?: IncomingMessage): () => string => {
    const st = new ConnState(listener.protocol, peer, MAX_AWAITING_REL, metrics)
    states.set(stream, st)
    const client = aedes.handle(stream, req)
    guardClient(client, guards)
    tapConnection(client, stream, st)
    return () => {
      if (st.info !== null) registry.disconnected(st.info, Date.now())
      return closing && st.reason === null ? 'shutdown' : st.shutdownReason()
    }
  }

  const cfg: ListenerConfig = {
    host: opts.host ?? '0.0.0.0',
    maxConns: opts.maxConns ?? DEFAULT_MAX_CONNS,
    log,
    onConnection,
    trustProxy: opts.trustProxy ?? false
  }
  const listeners: Listener[] = []
  let tcp: Listener, ws: Listener | undefined, ssl: Listener | undefined
  try {
    tcp = await tcpListener(cfg, opts.mqttPort)
    listeners.push(tcp)
    if (opts.wsPort !== null) listeners.push(ws = await wsListener(cfg, opts.wsPort))
    if (opts.tls !== undefined) listeners.push(ssl = await tlsListener(cfg, opts.tls))
  } catch (err) {
    await Promise.all(listeners.map(l => l.close()))
    await new Promise<void>(resolve => aedes.close(resolve))
    throw err
  }

  const sweep = setInterval(() => { expireSessions().catch(() => {}) }, EXPIRY_SWEEP_MS)
  sweep.unref()

  /** aedes never expires offline sessions: do it here (EMQ X session_expiry_interval). */
  async function expireSessions (): Promise<void> {
    for (const id of registry.expiredSessions(Date.now())) {
      if (internals.clients[id] !== undefined) continue
      registry.dropSession(id)
      await purgeSession(persistence, id).catch((err: unknown) => {
        log.warn({ clientId: id, err: String(err) }, 'session expiry: purge failed')
      })
    }
  }

  const clientOf = (clientId: string): AedesClient | undefined => {
    const c = internals.clients[clientId]
    return c !== undefined && !c.closed ? c : undefined
  }

  return {
    aedes,
    nodeName: opts.nodeName,
    ports: { mqtt: tcp.port, ws: ws?.port ?? null, tls: ssl?.port ?? null },
    registry,
    metrics,

    listeners: () => listeners.map(l => l.info()),

    kickout (clientId) {
      const c = clientOf(clientId)
      if (c === undefined) return false
      const st = stateOf(c)
      if (st !== undefined) st.reason = 'kicked'
      c.conn.destroy()
      return true
    },

    async publish (msg: PublishRequest) {
      const retain = msg.retain && (hooks.keepRetained === undefined || hooks.keepRetained(msg.topic, msg.payload))
      const packet: PublishPacket = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos: msg.qos, retain, dup: false }
      if (hooks.publish?.(msg.clientId ?? null, packet as Message) === true) return
      const from = msg.clientId === undefined ? null : clientOf(msg.clientId) ?? null
      await new Promise<void>((resolve, reject) => {
        internals.publish(packet, from, (err?: Error) => { if (err != null) reject(err); else resolve() })
      })
    },

    async subscribe (clientId, filters, qos: QoS) {
      const c = clientOf(clientId)
      if (c === undefined) return false
      // the same path as a SUBSCRIBE packet minus the SUBACK: persists for clean=false, emits 'subscribe'
      await new Promise<void>((resolve, reject) => {
        // no messageId: aedes then sends no SUBACK to the client
        c.subscribe({ cmd: 'subscribe', subscriptions: filters.map(topic => ({ topic, qos })) }, (err) => { if (err != null) reject(err); else resolve() })
      })
      return true
    },

    async unsubscribe (clientId, filters) {
      const c = clientOf(clientId)
      if (c === undefined) return false
      // aedes removes stored subscriptions only for an UNSUBSCRIBE packet (one with a messageId)
      if (!c.clean) await persistence.removeSubscriptions({ id: clientId }, filters)
      await new Promise<void>((resolve, reject) => {
        // no messageId: aedes then sends no UNSUBACK to the client
        c.unsubscribe({ cmd: 'unsubscribe', unsubscriptions: filters }, (err) => { if (err != null) reject(err); else resolve() })
      })
      return true
    },

    setMaxConns (protocol, maxConns) {
      const l = listeners.find(x => x.protocol === protocol)
      if (l !== undefined) l.maxConns = maxConns
      return l !== undefined
    },

    setNoDelay (protocol, on) {
      const l = listeners.find(x => x.protocol === protocol)
      if (l !== undefined) l.noDelay = on
      return l !== undefined
    },

    cleanAclCache (clientId) {
      const st = stateOf(clientOf(clientId))
      if (st === undefined) return false
      st.aclClear()
      return true
    },

    async close () {
      if (closing) return
      closing = true
      clearInterval(sweep)
      sharedRetained?.stop()
      await new Promise<void>(resolve => aedes.close(resolve))
      await Promise.all(listeners.map(l => l.close()))
      if (ownPersistence) await persistence.destroy()
    }
  }
}

function snapshot (p: ConnectPacket): NonNullable<ConnState['connect']> {
  const s: NonNullable<ConnState['connect']> = {
    at: Date.now(),
    protocolId: p.protocolId ?? 'MQTT',
    protocolVersion: p.protocolVersion ?? 4,
    bridgeMode: (p as { bridgeMode?: boolean }).bridgeMode === true,
    keepalive: p.keepalive ?? 0,
    clean: p.clean !== false,
    will: p.will === undefined ? null : { topic: p.will.topic },
    emptyId: p.clientId === ''
  }
  if (p.username !== undefined) s.username = p.username
  return s
}

/** the Remaining Length of a PUBLISH [MQTT-3.3.2]: as parsed, else topic, packet id when QoS > 0, payload */
function publishLength (p: PublishPacket & { length?: number }): number {
  if (typeof p.length === 'number' && p.length >= 0) return p.length
  return 2 + Buffer.byteLength(p.topic) + (p.qos > 0 ? 2 : 0) + toBuffer(p.payload).length
}

/** The packet itself as a hook's Message: parsed packets carry a Buffer payload and a valid QoS; a copy only otherwise. */
function asMessage (packet: PublishPacket): Message {
  if (Buffer.isBuffer(packet.payload) && packet.qos <= 2) return packet as Message
  return { topic: packet.topic, payload: toBuffer(packet.payload), qos: toQoS(packet.qos), retain: packet.retain }
}

function toBuffer (payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload
  return Buffer.from(typeof payload === 'string' ? payload : '')
}

function toQoS (n: number | undefined): QoS {
  return n === 1 || n === 2 ? n : 0
}

/** Reads `count` every second and after each `refresh()`, one read at a time; a failed read keeps the last value. */
function pollCount (count: () => Promise<number>, set: (n: number) => void, log: Logger): { refresh: () => Promise<void>, stop: () => void } {
  let reading: Promise<void> | null = null
  let again = false
  const refresh = async (): Promise<void> => {
    if (reading !== null) { again = true; return await reading }
    reading = (async () => {
      do {
        again = false
        try {
          set(await count())
        } catch (err) {
          log.warn({ err: String(err) }, 'retained messages could not be counted')
        }
      } while (again)
    })()
    try { await reading } finally { reading = null }
  }
  const timer = setInterval(() => { refresh().catch(() => {}) }, 1000)
  timer.unref()
  return { refresh, stop: () => { clearInterval(timer) } }
}
