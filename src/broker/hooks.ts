/**
 * The aedes option hooks: CONNECT checks and authentication (preConnect, authenticate), publish
 * authorization (authorizePublish), and the delivered-message hook (authorizeForward). The
 * decisions themselves are the node's (BrokerHooks, built by policy.ts and the plugins); this is
 * how aedes asks for them, and what a refusal means on the wire.
 */

import type { AedesOptions, AuthenticateError, Client, ConnectPacket, PublishPacket } from 'aedes'
import type { ConnState } from './conn.js'
import type { PersistenceLike } from './persistence.js'
import type { Registry } from './registry.js'
import type { BrokerHooks, Logger, Message, QoS } from './types.js'

const SYS = '$SYS/'

export interface HookContext {
  hooks: BrokerHooks
  log: Logger
  registry: Registry
  persistence: PersistenceLike
  stateOf: (client: Client | null | undefined) => ConnState | undefined
  maxPacketSize?: (() => number) | undefined
}

export interface AedesHooks {
  options: Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeForward'>
  /** a publish refused or taken by authorizePublish: aedes acknowledges it, it must route it nowhere (once) */
  swallow: (packet: object) => boolean
}

export function aedesHooks (ctx: HookContext): AedesHooks {
  const { hooks, log, registry, persistence, stateOf } = ctx
  /** packets refused by authorizePublish: acknowledged, never routed */
  const denied = new WeakSet<object>()

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
