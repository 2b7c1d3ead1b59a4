/**
 * Per-connection state and the wire tap that feeds metrics, connection counters and the session's
 * in-flight bookkeeping from raw MQTT bytes (see framing.ts).
 */

import type { Duplex } from 'node:stream'
import { Framer, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL } from './framing.js'
import type { Metrics } from './metrics.js'
import type { Session } from './registry.js'
import type { ConnCounters, ConnInfo, ListenerProtocol } from './types.js'

const DISCONNECT = 14

/** Bound of the per-client authorizePublish cache (EMQ X v3 acl_cache_max_size default). */
export const ACL_CACHE_MAX = 32

export interface Peer {
  ip: string
  port: number
  peercert: string
}

/** The CONNECT fields kept for ConnInfo (aedes does not retain them). */
export interface ConnectSnapshot {
  at: number
  protocolId?: string
  protocolVersion?: number
  bridgeMode?: boolean
  keepalive?: number
  clean?: boolean
  username?: string
  will?: { topic?: string } | null
  /** the CONNECT carried a zero-length client id (aedes then assigns one) */
  emptyId?: boolean
}

export class ConnState {
  /** captured in aedes' preConnect, before authentication */
  connect: ConnectSnapshot | null = null
  readonly counters: ConnCounters = { recvPkt: 0, sendPkt: 0, recvOct: 0, sendOct: 0, recvMsg: 0, sendMsg: 0 }
  /** set once authentication accepted the CONNECT */
  info: ConnInfo | null = null
  /** set once aedes registered the client */
  session: Session | null = null
  /** explicit shutdown reason (kicked, takeover, …); otherwise derived when the socket closes */
  reason: string | null = null
  sawDisconnect = false
  errored = false
  /** topic → authorizePublish decision, insertion-ordered for FIFO eviction */
  readonly acl = new Map<string, boolean>()

  constructor (readonly listener: ListenerProtocol, readonly peer: Peer, readonly maxAwaitingRel: number) {}

  /** The ConnInfo for this connection once the client id is known (aedes assigns one if empty). */
  toInfo (clientId: string): ConnInfo {
    const p = this.connect ?? { at: Date.now() }
    return {
      clientId,
      username: p.username ?? null,
      ipaddress: this.peer.ip,
      port: this.peer.port,
      keepalive: p.keepalive ?? 0,
      protoName: p.protocolId === 'MQIsdp' ? 'MQIsdp' : 'MQTT',
      protoVer: p.protocolVersion === 3 ? 3 : 4,
      isBridge: p.bridgeMode === true,
      cleanStart: p.clean !== false,
      connectedAt: p.at,
      willTopic: p.will?.topic ?? null,
      peercert: this.peer.peercert,
      listener: this.listener,
      counters: this.counters
    }
  }

  /** Why the connection ended, in EMQ X shutdown-count terms. */
  shutdownReason (): string {
    if (this.reason !== null) return this.reason
    if (this.sawDisconnect) return 'closed' // [MQTT-3.14.4]: orderly DISCONNECT
    if (this.errored) return 'error'
    return 'tcp_closed' // peer went away without DISCONNECT
  }

  aclGet (topic: string): boolean | undefined {
    return this.acl.get(topic)
  }

  aclSet (topic: string, allow: boolean): void {
    if (this.acl.size >= ACL_CACHE_MAX) {
      const oldest = this.acl.keys().next()
      if (oldest.done !== true) this.acl.delete(oldest.value)
    }
    this.acl.set(topic, allow)
  }
}

/** `::ffff:1.2.3.4` (IPv4-mapped IPv6, RFC 4291 §2.5.5.2) → `1.2.3.4` */
export function normalizeIp (addr: string | undefined): string {
  if (addr === undefined) return ''
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr
}

/**
 * Observes both directions of `stream` without sitting in the data path: a 'data' listener on the
 * inbound side (aedes reads in paused mode via 'readable', which keeps precedence, so this only sees
 * what aedes reads) and a wrapper around `write` on the outbound side.
 * Must be installed after aedes attached its 'readable' listener.
 */
export function tapConnection (stream: Duplex, state: ConnState, metrics: Metrics, maxPacketSize?: () => number): void {
  const c = state.counters
  // a frame above the limit closes the connection on its header, before aedes buffers its body
  const limit = maxPacketSize && { max: maxPacketSize, exceeded: () => { state.errored = true; stream.destroy() } }

  const inbound = new Framer((type, flags, id) => {
    metrics.pktIn[type]!++
    c.recvPkt++
    if (type === PUBLISH) {
      const qos = (flags >> 1) & 3
      if (qos < 3) metrics.msgIn[qos]!++
      c.recvMsg++
      if (qos === 2) receivedQoS2(state, metrics, id)
      return
    }
    if (type === DISCONNECT) {
      state.sawDisconnect = true
      return
    }
    const s = state.session
    if (s === null) return
    switch (type) {
      case PUBACK: // QoS 1 done [MQTT-4.3.2]
        if (!s.inflight.delete(id)) metrics.pubackMissed++
        break
      case PUBREC: // QoS 2 stays in flight until PUBCOMP [MQTT-4.3.3]
        if (!s.inflight.has(id)) metrics.pubrecMissed++
        break
      case PUBREL:
        if (!s.awaitingRel.delete(id)) metrics.pubrelMissed++
        break
      case PUBCOMP:
        if (!s.inflight.delete(id)) metrics.pubcompMissed++
        break
    }
  }, limit)

  const outbound = new Framer((type, flags, id) => {
    metrics.pktOut[type]!++
    c.sendPkt++
    const s = state.session
    if (type === PUBLISH) {
      const qos = (flags >> 1) & 3
      if (qos < 3) metrics.msgOut[qos]!++
      c.sendMsg++
      if (s === null) return
      s.deliverMsg++
      if (qos > 0 && !s.inflight.has(id)) {
        s.inflight.add(id)
        // a fresh packet id on a resumed session is a queued message being drained
        if (s.mqueueLen > 0) s.mqueueLen--
      }
    } else if (type === PUBREL && s !== null) {
      // a PUBREL re-sent on session resume keeps its QoS 2 message in flight
      s.inflight.add(id)
    }
  })

  stream.on('data', (chunk: Buffer) => {
    metrics.bytesIn += chunk.length
    inbound.feed(chunk)
    c.recvOct = inbound.bytes
  })

  const write = stream.write
  stream.write = function tappedWrite (this: Duplex, ...args: unknown[]): boolean {
    const [chunk, enc] = args
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) {
      const before = outbound.bytes
      outbound.feed(chunk, typeof enc === 'string' ? enc as BufferEncoding : undefined)
      metrics.bytesOut += outbound.bytes - before
      c.sendOct = outbound.bytes
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as Duplex['write']
}

function receivedQoS2 (state: ConnState, metrics: Metrics, id: number): void {
  const s = state.session
  if (s === null) return
  const limit = state.maxAwaitingRel
  if (limit > 0 && !s.awaitingRel.has(id) && s.awaitingRel.size >= limit) {
    // aedes refuses it and drops the connection (maxInflightInbound)
    metrics.qos2Dropped++
    return
  }
  s.awaitingRel.add(id)
}
