/**
 * What the management API does to the broker's clients and listeners: kick out, publish,
 * subscribe and unsubscribe on behalf of a client, clear its ACL cache, change a listener.
 */

import type { Aedes, PublishPacket } from 'aedes'
import type { ConnState } from './conn.js'
import { closeClient } from './disconnect.js'
import type { Listener } from './listeners.js'
import { purgeSession, type PersistenceLike, type StoredPacket } from './persistence.js'
import type { Registry } from './registry.js'
import type { Broker } from './handle.js'
import type { BrokerHooks, Message, OnBehalf, PublishRequest, QoS, SessionMessage } from './types.js'
import { hasClient, liveClient, liveClients, publishAs } from './upstream.js'
import { parseShared } from './shared-topics.js'
import { errors } from '../core/errors.js'

export interface OperationContext {
  aedes: Aedes
  hooks: BrokerHooks
  persistence: PersistenceLike
  registry: Registry
  listeners: readonly Listener[]
  stateOf: (client: object | undefined) => ConnState | undefined
  /** a subscription made here is the management API's: not asked of authorizeSubscribe */
  trust: (sub: object) => void
}

export type Operations = Pick<Broker, 'kickout' | 'discardSession' | 'publish' | 'sessionMessages' | 'subscribe' | 'unsubscribe' | 'cleanAclCache' | 'cleanAllAclCaches' | 'setMaxConns' | 'setNoDelay'>

export function operations (ctx: OperationContext): Operations {
  const { aedes, hooks, persistence, registry, listeners, stateOf, trust } = ctx
  const listener = (protocol: string): Listener | undefined => listeners.find(x => x.protocol === protocol)

  const isOfflineSession = (clientId: string): boolean => {
    const s = registry.session(clientId)
    return s !== undefined && !s.connected && !s.cleanStart
  }

  /**
   * Stored as a SUBSCRIBE of the client would store them: aedes queues for an offline session's
   * stored subscriptions (subscriptionsByTopic), so queueing starts at once, and resumes them at
   * its clean=false CONNECT. A client id without a session gets a persistent one, offline; a
   * clean=true CONNECT discards it as it discards any session [MQTT-3.1.2-6].
   */
  const subscribeOffline = async (clientId: string, filters: string[], qos: QoS, create: boolean): Promise<boolean> => {
    const known = registry.session(clientId) !== undefined
    if (known ? !isOfflineSession(clientId) : !create) return false
    // a shared group picks among its connected members: an offline member would only hold messages back
    if (filters.some(f => parseShared(f) !== null)) throw errors.badParam('a shared subscription ($share/, $queue/) needs its client connected')
    if (!known) registry.restoreOffline(clientId, [], 0, Date.now())
    await persistence.addSubscriptions({ id: clientId }, filters.map(topic => ({ topic, qos })))
    for (const f of filters) registry.addSubscription(clientId, f, qos)
    return true
  }

  return {
    kickout (clientId, reason = 'kicked') {
      const c = liveClient(aedes, clientId)
      if (c === undefined) return false
      const st = stateOf(c)
      if (st !== undefined) st.reason = reason
      closeClient(c, st, reason)
      return true
    },

    async discardSession (clientId) {
      const c = liveClient(aedes, clientId)
      if (c === undefined && registry.session(clientId) === undefined) return false
      const isNewer = (x: object | undefined): boolean => x !== undefined && x !== c
      if (c !== undefined) {
        const st = stateOf(c)
        if (st !== undefined) st.reason = 'discarded'
        // aedes stores what it still holds of the session as the connection closes: purge after that
        closeClient(c, st, 'discarded')
        // aedes lets go of a closing client only after it has stored what it held of the session
        // (asynchronously, on a remote persistence): purge after that, waiting at most 3 s
        const gone = (): boolean => !hasClient(aedes, clientId) || isNewer(liveClient(aedes, clientId))
        for (let waited = 0; !gone() && waited < 3000; waited += 10) await new Promise(resolve => setTimeout(resolve, 10))
      }
      // a new connection of the same id in the meantime has a session of its own: leave it
      if (isNewer(liveClient(aedes, clientId))) return true
      registry.dropSession(clientId)
      await purgeSession(persistence, clientId)
      return true
    },

    async publish (msg: PublishRequest) {
      const retain = msg.retain && (hooks.keepRetained === undefined || hooks.keepRetained(msg.topic, msg.payload))
      const packet: PublishPacket = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos: msg.qos, retain, dup: false }
      // a copy per message: aedes writes into a delivered packet's properties (the remaining expiry)
      if (msg.properties !== undefined) packet.properties = { ...msg.properties }
      if (hooks.publish?.(msg.clientId ?? null, packet as Message) === true) return
      const from = msg.clientId === undefined ? null : liveClient(aedes, msg.clientId) ?? null
      await new Promise<void>((resolve, reject) => {
        publishAs(aedes, packet, from, (err?: Error) => { if (err != null) reject(err); else resolve() })
      })
    },

    async sessionMessages (clientId) {
      if (registry.session(clientId) === undefined) return null
      const out: SessionMessage[] = []
      // a snapshot of the client's outgoing queue: queued packets have no messageId until sent
      for await (const p of persistence.outgoingStream({ id: clientId }) as AsyncIterable<StoredPacket & Record<string, unknown>>) {
        // a PUBREL stored for an inflight QoS 2 message is no message of its own
        if (p.cmd !== undefined && p.cmd !== 'publish') continue
        out.push(sessionMessage(p))
      }
      return out
    },

    async subscribe (clientId, filters, qos: QoS, reach: OnBehalf = 'online') {
      const c = liveClient(aedes, clientId)
      if (c === undefined) return reach !== 'online' && await subscribeOffline(clientId, filters, qos, reach === 'create')
      // the same path as a SUBSCRIBE packet minus the SUBACK: persists for clean=false, emits 'subscribe'
      await new Promise<void>((resolve, reject) => {
        // no messageId: aedes then sends no SUBACK to the client
        const subscriptions = filters.map(topic => ({ topic, qos }))
        for (const s of subscriptions) trust(s)
        c.subscribe({ cmd: 'subscribe', subscriptions }, (err) => { if (err != null) reject(err); else resolve() })
      })
      return true
    },

    async unsubscribe (clientId, filters, offline = false) {
      const c = liveClient(aedes, clientId)
      if (c === undefined) {
        if (!offline || !isOfflineSession(clientId)) return false
        await persistence.removeSubscriptions({ id: clientId }, filters)
        for (const f of filters) registry.removeSubscription(clientId, f)
        return true
      }
      // aedes removes stored subscriptions only for an UNSUBSCRIBE packet (one with a messageId)
      if (!c.clean) await persistence.removeSubscriptions({ id: clientId }, filters)
      await new Promise<void>((resolve, reject) => {
        // no messageId: aedes then sends no UNSUBACK to the client
        c.unsubscribe({ cmd: 'unsubscribe', unsubscriptions: filters }, (err) => { if (err != null) reject(err); else resolve() })
      })
      return true
    },

    cleanAclCache (clientId, topic) {
      const st = stateOf(liveClient(aedes, clientId))
      if (st === undefined) return false
      st.aclClear(topic)
      return true
    },

    cleanAllAclCaches () {
      for (const c of liveClients(aedes)) stateOf(c)?.aclClear()
    },

    setMaxConns (protocol, maxConns) {
      const l = listener(protocol)
      if (l !== undefined) l.maxConns = maxConns
      return l !== undefined
    },

    setNoDelay (protocol, on) {
      const l = listener(protocol)
      if (l !== undefined) l.noDelay = on
      return l !== undefined
    }
  }
}

/** A stored packet as the API shows it; fields aedes does not always set are left undefined. */
function sessionMessage (p: StoredPacket & Record<string, unknown>): SessionMessage {
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload ?? Buffer.alloc(0)
  const expiry = typeof p.messageExpiry === 'number' ? p.messageExpiry : undefined
  const interval = (p.properties as { messageExpiryInterval?: unknown } | undefined)?.messageExpiryInterval
  const qos = p.qos === 1 || p.qos === 2 ? p.qos : 0
  return {
    brokerId: String(p.brokerId ?? ''),
    brokerCounter: typeof p.brokerCounter === 'number' ? p.brokerCounter : 0,
    topic: p.topic,
    qos,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload as Uint8Array),
    packetId: typeof p.messageId === 'number' && p.messageId > 0 ? p.messageId : undefined,
    expiresAt: expiry,
    publishedAt: expiry !== undefined && typeof interval === 'number' ? expiry - interval * 1000 : undefined,
    fromClientId: typeof p.clientId === 'string' ? p.clientId : undefined
  }
}
