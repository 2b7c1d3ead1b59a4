/**
 * One MQTT node: aedes behind TCP / WebSocket / TLS listeners, with the live state (registry,
 * metrics, listeners) the management API reads and the operations it performs on clients.
 *
 * startBroker puts the parts together, in this order: the upstream patches (upstream.ts), the
 * persistence chain, the aedes hooks (hooks.ts), aedes and its instance patches, drop accounting
 * (drops.ts), the registry wiring (wiring.ts), the listeners, the session expiry sweep, and the
 * operations (operations.ts). Everything acquired on the way is undone, in reverse, by close()
 * or by a start that fails half way.
 */

import { Aedes } from 'aedes'
import type { AedesOptions, Client } from 'aedes'
import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Cleanup } from '../core/cleanup.js'
import { ConnState } from './conn.js'
import type { Peer } from './conn.js'
import { closeClient, disconnectForShutdown } from './disconnect.js'
import { Drops } from './drops.js'
import { countExpired } from './expiry.js'
import type { Guards } from './guard.js'
import { aedesHooks, subscribeAuthorization } from './hooks.js'
import type { AckAfterStore } from './ack-after-store.js'
import { Listener, tcpListener, tlsListener, wsListener } from './listeners.js'
import type { ListenerConfig } from './listeners.js'
import { Metrics } from './metrics.js'
import { limitMqueue } from './mqueue.js'
import { operations } from './operations.js'
import { composePersistence, observePersistence, purgeSession, retainedTopics } from './persistence.js'
import type { PersistenceLike } from './persistence.js'
import { markRedeliveries } from './redelivery.js'
import { Registry } from './registry.js'
import { SessionExpiries } from './session-expiry.js'
import { SharedSubscriptions } from './shared.js'
import type { Broker } from './handle.js'
import type { BrokerOptions, Logger } from './types.js'
import { capInboundQoS2, cleanIncomingWithSession, connStateOf, guardClient, hasClient, installUpstream, liveClients, patchBroker, readAfterWipe, sessionExpiryOf, tapConnection } from './upstream.js'
import { wireRegistry } from './wiring.js'

export type * from './types.js'
export type { Broker } from './handle.js'
export { Registry } from './registry.js'
export { Metrics } from './metrics.js'

const DEFAULT_MAX_CONNS = 1024000
/** the inbound QoS 2 window (aedes 1.2's maxInflightInbound; the v5 Receive Maximum): reported as max_awaiting_rel */
const DEFAULT_MAX_AWAITING_REL = 1000
/** a v5 session may expire after a second: the sweep scans only once the earliest expiry is due (registry) */
const EXPIRY_SWEEP_MS = 1000
/** at shutdown, how long MQTT 5 clients have to read their DISCONNECT 0x8B before the listeners close */
const SHUTDOWN_DISCONNECT_MS = 1000
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** EMQ X v3 zone.max_mqueue_len */
const DEFAULT_MAX_MQUEUE = 1000
const DEFAULT_SLOW_CONSUMER = { bytes: 16 * 1024 * 1024, seconds: 5 }
/** what a connection may send before its CONNACK, in bytes (guard.ts), instead of aedes' count of 42 packets */
const HELD_BEFORE_CONNACK = 1024 * 1024

// aedes-persistence is CommonJS whose typings declare an ESM default export, which TypeScript
// (nodenext) and Node disagree on; require() sidesteps the mismatch
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => unknown

const silent: Logger = { info () {}, warn () {}, error () {} }

export async function startBroker (opts: BrokerOptions): Promise<Broker> {
  // before anything is acquired: a missing upstream internal stops the start here
  await installUpstream()
  const log = opts.log ?? silent
  const hooks = opts.hooks ?? {}
  const metrics = new Metrics()
  const maxMqueue = opts.maxMqueue ?? DEFAULT_MAX_MQUEUE
  const maxAwaitingRel = opts.maxAwaitingRel ?? DEFAULT_MAX_AWAITING_REL
  const slow = opts.slowConsumer ?? DEFAULT_SLOW_CONSUMER
  const registry = new Registry(opts.nodeName, metrics, { maxAwaitingRel, maxMqueue })
  // the state rides on the stream aedes was handed (upstream.ts): no table per connection
  const stateOf = (client: object | null | undefined): ConnState | undefined =>
    client == null ? undefined : connStateOf((client as { conn?: object }).conn)
  const drops = new Drops(metrics)
  const retained = new Set<string>()
  const cleanup = new Cleanup()
  let closing = false

  try {
    const base = (opts.persistence ?? memoryPersistence()) as PersistenceLike
    if (opts.persistence === undefined) cleanup.add(() => base.destroy())
    const shared = new SharedSubscriptions({ strategy: opts.sharedStrategy ?? (() => 'random'), dropped: () => { drops.dropped() }, store: base, log, ...opts.sharedBus !== undefined ? { bus: opts.sharedBus } : {} })
    // retained messages other nodes store too (a cluster): counted in the shared store itself
    const sharedRetained = opts.retainedCount === undefined ? undefined : pollCount(opts.retainedCount, n => { registry.setRetained(n) }, log)
    if (sharedRetained !== undefined) cleanup.add(() => { sharedRetained.stop() })

    const subscriptions = subscribeAuthorization({ hooks, log, stateOf })
    // The persistence chain, nearest the store first: each layer's `next` is the one above it here.
    const persistence = composePersistence(base, [
      // a group with no live member: one of its persistent members' sessions queues the message
      shared.offlineLayer,
      // refused filters of a SUBSCRIBE are not stored (aedes would store them with the granted ones)
      subscriptions.layer,
      // sees only what the store acknowledged: retained/count, the offline queues' lengths, and
      // the publishes that reached a stored session (which the drop count must not count)
      observePersistence({
        retained (topic, present) {
          if (sharedRetained !== undefined) return sharedRetained.refresh()
          if (present) retained.add(topic)
          else retained.delete(topic)
          registry.setRetained(retained.size)
        },
        enqueued (clientIds, packet) {
          drops.accountedFor(packet)
          for (const id of clientIds) {
            const s = registry.liveSession(id)
            // aedes queues for online persistent subscribers too, then delivers at once: only offline ones wait
            if (s !== undefined && !s.connected) {
              s.mqueueLen++
              s.enqueueMsg++
            }
          }
        }
      }),
      // the node's (the retainer: stamps and filters retained messages; its removals are observed)
      ...opts.persistenceLayers ?? [],
      // DUP=1 on what a resumed session is sent again
      markRedeliveries,
      // queued messages aedes drops as expired (MQTT 5 message expiry), counted
      countExpired(() => { metrics.expired++ }),
      // outermost: a full offline queue refuses a message before any layer beneath counts it
      ...maxMqueue > 0 ? [limitMqueue({ full: mqueueFull, dropped: mqueueDropped })] : [],
      // fixes aedes 2.0.0-beta.1 lacks (upstream.ts)
      cleanIncomingWithSession,
      readAfterWipe,
      capInboundQoS2(maxAwaitingRel)
    ])
    function mqueueFull (clientId: string, pending: number): boolean {
      const s = registry.liveSession(clientId)
      return s !== undefined && !s.connected && s.mqueueLen + pending >= maxMqueue
    }
    function mqueueDropped (clientIds: readonly string[], packet: { topic: string }, all: boolean): void {
      for (const id of clientIds) {
        const s = registry.liveSession(id)
        if (s !== undefined) s.mqueueDropped++
        drops.dropped()
      }
      // nobody got it: keep the matcher from counting the same message again
      if (all) drops.accountedFor(packet)
    }

    const acks: { current?: AckAfterStore } = {}
    const aedesHooksFor = aedesHooks({ hooks, log, registry, persistence, stateOf, maxPacketSize: opts.maxPacketSize, subscriptions, acks })
    const aedesOpts: AedesOptions = {
      ...aedesHooksFor.options,
      persistence,
      // advertised in a v5 CONNACK; enforced by capInboundQoS2
      receiveMaximum: maxAwaitingRel,
      // bounded by bytes in guard.ts (HELD_BEFORE_CONNACK) instead
      queueLimit: Number.MAX_SAFE_INTEGER,
      connectTimeout: opts.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // MQTT 5, inbound: aliases a client may set (aedes resolves them)
      topicAliasMaximum: opts.topicAliasMaximum ?? 0,
      responseInformation: (client) => opts.responseInformation?.(client.id, stateOf(client)?.info?.username ?? null)
    }
    if (opts.mq !== undefined) aedesOpts.mq = opts.mq

    const aedes = await Aedes.createBroker(aedesOpts)
    cleanup.add(() => new Promise<void>(resolve => aedes.close(resolve)))
    const { matching, ackAfterStore } = patchBroker(aedes, {
      swallow: aedesHooksFor.swallow,
      // [MQTT-3.1.4-2]: aedes closes the older connection with the same client id; name the reason
      registering (_client, old) {
        const st = stateOf(old)
        if (st !== undefined && st.reason === null) st.reason = 'takeover'
      },
      // clustered, drops are counted from the bus instead
      ...opts.busReceivers === undefined ? { matched: (topic: string, found: number) => { drops.matched(topic, found) } } : {},
      subscribe: (topic, func, done) => shared.subscribe(topic, func, done),
      unsubscribe: (topic, func, done) => shared.unsubscribe(topic, func, done)
    }, opts.mq === undefined)
    shared.attach(aedes)
    aedes.on('clientReady', (client) => { shared.connected(client.id) })
    acks.current = ackAfterStore
    drops.matching = matching
    opts.busReceivers?.((packet, receivers) => { drops.busReceived(packet, receivers) })

    const restoredAt = Date.now()
    for (const s of await opts.storedSessions?.() ?? []) {
      registry.restoreOffline(s.clientId, s.subscriptions, s.queued, restoredAt)
      shared.storedSession(s.clientId, s.subscriptions)
    }
    const expiries = new SessionExpiries(opts.sessionExpiries, registry, log)
    await expiries.restore()
    wireRegistry(aedes, registry, stateOf, log, expiries)

    if (sharedRetained !== undefined) await sharedRetained.refresh()
    else {
      for (const topic of await retainedTopics(persistence)) retained.add(topic)
      registry.setRetained(retained.size)
    }

    const guards: Guards = {
      maxPacketSize: opts.maxPacketSize,
      slowBytes: slow.bytes,
      slowSeconds: slow.seconds,
      onSlow: (client) => { const st = stateOf(client); if (st !== undefined) st.reason ??= 'slow_consumer' },
      disconnect: (client) => { closeClient(client as Client, stateOf(client), 'slow_consumer') },
      onDrop: () => { drops.dropped() },
      onOversize: (client) => { const st = stateOf(client); if (st !== undefined) st.errored = true },
      heldBytes: opts.heldBeforeConnack ?? HELD_BEFORE_CONNACK,
      // what may wait for a v5 client's Receive Maximum: as much as an offline session may queue
      maxHeld: maxMqueue,
      serverKeepAlive: opts.serverKeepAlive
    }
    const onConnection = (stream: Duplex, listener: Listener, peer: Peer, req?: IncomingMessage): void => {
      const st = new ConnState(listener.protocol, peer, maxAwaitingRel, metrics)
      const client = aedes.handle(stream, req)
      st.client = client
      shared.track(client)
      guardClient(client, guards)
      tapConnection(client, stream, st)
    }
    // one function for every connection (listeners.ts): no closure per connection
    const onClose = (stream: Duplex): string => {
      const st = connStateOf(stream)
      if (st === undefined) return closing ? 'shutdown' : 'tcp_closed'
      // ConnState keeps aedes' client untyped (conn.ts does not depend on aedes)
      const client = st.client as Client | null
      if (client !== null) shared.untrack(client)
      const reason = closing && st.reason === null ? 'shutdown' : st.shutdownReason()
      if (st.info !== null) {
        // the interval a v5 DISCONNECT set, whichever of this and aedes' clientDisconnect comes first
        if (client !== null && st.session !== null && registry.liveSession(client.id) === st.session) st.session.sessionExpiry = sessionExpiryOf(client)
        registry.disconnected(st.info, Date.now())
        hooks.disconnected?.(st.info, reason)
      }
      return reason
    }

    const cfg: ListenerConfig = {
      host: opts.host ?? '0.0.0.0',
      maxConns: opts.maxConns ?? DEFAULT_MAX_CONNS,
      log,
      onConnection,
      onClose,
      trustProxy: opts.trustProxy ?? false
    }
    const listeners: Listener[] = []
    const listen = async (starting: Promise<Listener>): Promise<Listener> => {
      const l = await starting
      listeners.push(l)
      cleanup.add(() => l.close())
      return l
    }
    const tcp = await listen(tcpListener(cfg, opts.mqttPort))
    const ws = opts.wsPort === null ? undefined : await listen(wsListener(cfg, opts.wsPort))
    const ssl = opts.tls === undefined ? undefined : await listen(tlsListener(cfg, opts.tls))

    /** aedes never expires offline sessions: do it here (EMQ X session_expiry_interval). */
    const expireSessions = async (): Promise<void> => {
      for (const id of registry.expiredSessions(Date.now())) {
        if (hasClient(aedes, id)) continue
        registry.dropSession(id)
        shared.forget(id)
        expiries.forget(id)
        await purgeSession(persistence, id).catch((err: unknown) => {
          log.warn({ clientId: id, err: String(err) }, 'session expiry: purge failed')
        })
      }
    }
    const sweep = setInterval(() => { expireSessions().catch(() => {}) }, EXPIRY_SWEEP_MS)
    sweep.unref()
    cleanup.add(() => { clearInterval(sweep) })

    return {
      aedes,
      nodeName: opts.nodeName,
      ports: { mqtt: tcp.port, ws: ws?.port ?? null, tls: ssl?.port ?? null },
      registry,
      metrics,
      listeners: () => listeners.map(l => l.info()),
      ...operations({ aedes, hooks, persistence, registry, listeners, stateOf, trust: subscriptions.trust }),
      async close () {
        closing = true
        await disconnectForShutdown(liveClients(aedes), stateOf, SHUTDOWN_DISCONNECT_MS)
        await cleanup.run()
      }
    }
  } catch (err) {
    return await cleanup.abort(err)
  }
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
