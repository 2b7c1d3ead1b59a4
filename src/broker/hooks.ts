/**
 * The aedes option hooks: CONNECT checks and authentication (preConnect, authenticate), publish
 * and subscribe authorization (authorizePublish, authorizeSubscribe), and the delivered-message
 * hook (authorizeForward). The decisions themselves are the node's (BrokerHooks, built by
 * policy.ts and the plugins); this is how aedes asks for them, and what a refusal means on the wire.
 */

import type { AedesOptions, AuthenticateError, Client, ConnectPacket, PublishPacket } from 'aedes'
import type { AckAfterStore } from './ack-after-store.js'
import type { ConnState } from './conn.js'
import { closeClient } from './disconnect.js'
import type { PersistenceLayer, PersistenceLike } from './persistence.js'
import type { Registry } from './registry.js'
import { isRefused } from './shared-topics.js'
import type { Authorization, BrokerHooks, Logger, Message, QoS } from './types.js'

const SYS = '$SYS/'

export interface HookContext {
  hooks: BrokerHooks
  log: Logger
  registry: Registry
  persistence: PersistenceLike
  stateOf: (client: Client | null | undefined) => ConnState | undefined
  maxPacketSize?: (() => number) | undefined
  subscriptions: SubscribeAuthorization
  /** set once aedes exists (upstream.ts patchBroker): a client's QoS 1 publish is acknowledged once stored */
  acks: { current?: AckAfterStore }
}

export interface AedesHooks {
  options: Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>
  /** a publish refused or taken by authorizePublish: aedes acknowledges it, it must route it nowhere (once) */
  swallow: (packet: object) => boolean
}

export function aedesHooks (ctx: HookContext): AedesHooks {
  const { hooks, log, registry, persistence, stateOf } = ctx
  /** packets refused by authorizePublish: acknowledged, never routed */
  const denied = new WeakSet<object>()

  /** authorized: a client's QoS 1 publish runs now and the answer (then PUBACK) waits until it is stored (ack-after-store.ts) */
  function allowed (client: Client | null, packet: PublishPacket, done: (err: Error | null) => void): void {
    const acks = ctx.acks.current
    if (client === null || packet.qos !== 1 || denied.has(packet) || acks === undefined) return done(null)
    acks.publish(packet, client, done)
  }

  /** the publish hook took the message (e.g. a delayed publish): acknowledge it, route nothing */
  function taken (client: Client | null, packet: PublishPacket): boolean {
    if (hooks.publish === undefined) return false
    return hooks.publish(client?.id ?? null, asMessage(packet))
  }

  const options: AedesHooks['options'] = {
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
      // [MQTT-3.1.3-8]: an empty client id needs a clean session, else CONNACK 2 and close
      const emptyId = st.connect?.emptyId === true && st.connect.clean === false
      // (toInfo drops the CONNECT snapshot)
      const info = st.toInfo(client.id)
      const hook = hooks.authenticate
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
      if (client !== null && ctx.maxPacketSize !== undefined && publishLength(packet) > ctx.maxPacketSize()) return done(new Error('packet too large'))
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
        return allowed(client, packet, done)
      }
      const st = stateOf(client)
      // the cache first: a PUBLISH whose decision is known allocates nothing here
      const decision = st?.aclGet('pub', packet.topic) ?? decide(st, 'pub', packet.topic, log, () => hook(st?.info ?? null, packet.topic, toBuffer(packet.payload), packet.retain))
      const v5 = client !== null && client.version === 5
      if (decision === 'disconnect') {
        if (st !== undefined) st.reason ??= 'not_authorized'
        // 3.1.1: aedes closes the connection on an authorizePublish error, without acknowledging
        if (!v5) return done(new NotAuthorized())
        // MQTT 5: aedes answers PUBACK/PUBREC 0x87 and keeps the connection; the deny action closes it, told why
        done(new NotAuthorized())
        closeClient(client, st, 'not_authorized')
        return
      }
      // MQTT 5: refused with PUBACK/PUBREC 0x87 Not authorized, routed nowhere (aedes does both); 3.1.1 has no
      // such code: acknowledged and swallowed, as EMQ X does
      if (!decision && v5) return done(new NotAuthorized())
      if (!decision || taken(client, packet)) denied.add(packet)
      allowed(client, packet, done)
    }
  }
  const authorizeSubscribe = ctx.subscriptions.authorize
  if (authorizeSubscribe !== undefined) options.authorizeSubscribe = authorizeSubscribe

  if (hooks.delivered !== undefined) {
    const delivered = hooks.delivered
    options.authorizeForward = (client, packet) => {
      try {
        delivered(client.id, asMessage(packet))
      } catch (err) {
        log.error({ err: String(err) }, 'delivered hook failed')
      }
      return packet
    }
  }

  return {
    options,
    swallow (packet) {
      if (!denied.has(packet)) return false
      denied.delete(packet)
      return true
    }
  }
}

/** A PUBLISH the ACL denies: aedes answers an MQTT 5 one with 0x87 and reports it as a client error, which it is not. */
export class NotAuthorized extends Error {
  constructor () { super('publish not authorized') }
}

/** Asks the hook and caches its decision on the connection; a failing hook denies, uncached. */
function decide (st: ConnState | undefined, action: 'pub' | 'sub', topic: string, log: Logger, ask: () => Authorization): Authorization {
  let decision: Authorization
  try {
    decision = ask()
  } catch (err) {
    log.error({ err: String(err), topic, action }, 'authorization hook failed: denying')
    return false // fail closed, and do not cache a failure
  }
  st?.aclSet(action, topic, decision)
  return decision
}

/** SUBSCRIBE authorization: the aedes hook, the management API's own subscriptions, the stored-session filter. */
export interface SubscribeAuthorization {
  /** aedes' authorizeSubscribe: refuses malformed shared filters, then asks BrokerHooks.authorizeSubscribe when there is one */
  authorize: AedesOptions['authorizeSubscribe']
  /** marks a subscription made through Broker.subscribe: it is not asked (EMQ X's emqx_mgmt:subscribe is not either) */
  trust: (sub: object) => void
  /** the persistence layer that keeps refused filters out of stored sessions */
  layer: PersistenceLayer
}

export function subscribeAuthorization (ctx: Pick<HookContext, 'hooks' | 'log' | 'stateOf'>): SubscribeAuthorization {
  const { log, stateOf } = ctx
  const hook = ctx.hooks.authorizeSubscribe
  const trusted = new WeakSet<object>()
  const decision = (st: ConnState | undefined, info: NonNullable<ConnState['info']>, topic: string): Authorization =>
    st?.aclGet('sub', topic) ?? decide(st, 'sub', topic, log, () => (hook as NonNullable<typeof hook>)(info, topic))
  return {
    trust: (sub) => { trusted.add(sub) },
    authorize: hook === undefined
      ? (_client, sub, done) => { done(null, isRefused(sub) ? null : sub) }
      : (client, sub, done) => {
          if (isRefused(sub)) return done(null, null)
          const st = stateOf(client)
          const info = st?.info
          if (info == null || trusted.has(sub)) return done(null, sub)
          const d = decision(st, info, sub.topic)
          if (d === 'disconnect') {
            if (st !== undefined) st.reason ??= 'not_authorized'
            // an error fails the whole SUBSCRIBE: aedes closes the connection, sends no SUBACK
            return done(new Error('subscription not authorized'))
          }
          // null: aedes grants 0x80 (failure) and neither subscribes nor stores it
          done(null, d === true ? sub : null)
        },
    // aedes 1.2 stores every filter of a SUBSCRIBE once one of them is granted, refused ones too
    // (handlers/subscribe.js storeSubscriptions): keep those out of the stored session, or it would
    // list and resume them. Asked again here, from the cache: the refusal may not be decided yet.
    // A malformed shared filter (refused before the hook) is kept out the same way.
    layer: (next) => ({
      async addSubscriptions (client, subs) {
        const asked = subs.filter(s => !isRefused(s))
        if (hook === undefined) {
          if (asked.length > 0) await next.addSubscriptions(client, asked)
          return
        }
        const st = stateOf(client as Client)
        const info = st?.info
        if (info == null) { if (asked.length > 0) await next.addSubscriptions(client, asked); return }
        const kept = asked.filter(s => trusted.has(s) || decision(st, info, s.topic) === true)
        if (kept.length > 0) await next.addSubscriptions(client, kept)
      }
    })
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
  const props = p.properties
  if (p.protocolVersion === 5 && props !== undefined) {
    // copied field by field: the packet's own object also carries user properties and auth data
    s.properties = {}
    if (props.sessionExpiryInterval !== undefined) s.properties.sessionExpiryInterval = props.sessionExpiryInterval
    if (props.receiveMaximum !== undefined) s.properties.receiveMaximum = props.receiveMaximum
    if (props.topicAliasMaximum !== undefined) s.properties.topicAliasMaximum = props.topicAliasMaximum
    if (props.maximumPacketSize !== undefined) s.properties.maximumPacketSize = props.maximumPacketSize
  }
  return s
}

/** the Remaining Length of a PUBLISH [MQTT-3.3.2]: as parsed, else topic, packet id when QoS > 0, payload */
function publishLength (p: PublishPacket & { length?: number }): number {
  if (typeof p.length === 'number' && p.length >= 0) return p.length
  return 2 + Buffer.byteLength(p.topic) + (p.qos > 0 ? 2 : 0) + toBuffer(p.payload).length
}

/** The packet itself as a hook's Message: parsed packets carry a Buffer payload and a valid QoS; a copy only otherwise. */
export function asMessage (packet: PublishPacket): Message {
  if (Buffer.isBuffer(packet.payload) && packet.qos <= 2) return packet as Message
  return { topic: packet.topic, payload: toBuffer(packet.payload), qos: toQoS(packet.qos), retain: packet.retain }
}

export function toBuffer (payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload
  return Buffer.from(typeof payload === 'string' ? payload : '')
}

export function toQoS (n: number | undefined): QoS {
  return n === 1 || n === 2 ? n : 0
}
