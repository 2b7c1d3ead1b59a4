/**
 * Per-connection state and the wire tap that feeds metrics, connection counters and the session's
 * in-flight bookkeeping from the packets aedes parses and writes.
 *
 * The tap runs for every packet, so it costs no closure, listener or wrapper per connection: two
 * functions patched once (mqtt-packet's parser and writer) find the connection's state through a
 * symbol on the parser and on the stream. Octets are counted per packet from its length, as EMQ X
 * counts MQTT bytes (over WebSocket the frames' payload, not their headers).
 *
 * The writer also coalesces: a stream that writes batches (`_writev`: TCP and TLS sockets, and our
 * WebSocket streams, one frame per batch) is corked at its first packet of a loop turn and uncorked
 * once, on the next check phase, so the packets aedes writes one per setImmediate leave in one
 * writev instead of one syscall each (the syscall was over half of the broker's CPU per delivered
 * message).
 */

import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'
import type { Metrics } from './metrics.js'
import type { Session } from './registry.js'
import type { ConnCounters, ConnInfo, ListenerProtocol } from './types.js'

const PUBLISH = 3
const PUBACK = 4
const PUBREC = 5
const PUBREL = 6
const PUBCOMP = 7
const SUBACK = 9
const PINGRESP = 13
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
  /** the stream writes through hold/release: it writes a batch at once */
  coalesce = false
  /** corked by hold, until release or destroy */
  held = false
  /** topic → authorizePublish decision, insertion-ordered for FIFO eviction; made on first use */
  private acl: Map<string, boolean> | null = null

  constructor (readonly listener: ListenerProtocol, readonly peer: Peer, readonly maxAwaitingRel: number, readonly metrics: Metrics) {}

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
    return this.acl?.get(topic)
  }

  aclSet (topic: string, allow: boolean): void {
    const acl = this.acl ??= new Map()
    if (acl.size >= ACL_CACHE_MAX) {
      const oldest = acl.keys().next()
      if (oldest.done !== true) acl.delete(oldest.value)
    }
    acl.set(topic, allow)
  }

  aclClear (): void {
    this.acl = null
  }
}

/** `::ffff:1.2.3.4` (IPv4-mapped IPv6, RFC 4291 §2.5.5.2) → `1.2.3.4` */
export function normalizeIp (addr: string | undefined): string {
  if (addr === undefined) return ''
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr
}

/** MQTT control packet types [MQTT-2.2.1] by mqtt-packet's `cmd` (the index is the type) */
const TYPE: Readonly<Record<string, number>> = Object.fromEntries([
  'reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'
].map((cmd, type) => [cmd, type]))

/** A packet as mqtt-packet parses or writes it: the fields the counters need. */
interface WirePacket { cmd: string, qos?: number, messageId?: number, length?: number, topic?: unknown, payload?: unknown, granted?: unknown[] }

const kConn = Symbol('connState')

/** mqtt-packet's parser (mqtt-packet 9 internals): `_newPacket` emits each parsed packet */
interface ParserInternals {
  packet: WirePacket | null
  _newPacket: () => boolean
  [kConn]?: ConnState
}
/** the aedes Client internals used here (aedes 1.2) */
interface ClientWire { _parser: ParserInternals }
type Tapped = object & { [kConn]?: ConnState }

type WriteToStream = ((packet: WirePacket, stream: Tapped, opts?: unknown) => boolean) & { cacheNumbers?: boolean }

const patched = new WeakSet<object>()

/**
 * aedes writes every packet with mqtt-packet's `writeToStream(packet, conn)`, looked up on the
 * module object at each call: wrapping it there gives one call per packet written, with the packet
 * itself. Other users of mqtt-packet in the process (mqtt.js in tests) pass through: only streams
 * registered by tapConnection are observed.
 */
function tapPacketWrites (): void {
  const mqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as { writeToStream: WriteToStream }
  if (patched.has(mqttPacket)) return
  patched.add(mqttPacket)
  const write = mqttPacket.writeToStream
  const tapped: WriteToStream = function writeToStream (packet, stream, opts) {
    const st = stream[kConn]
    if (st?.coalesce === true && !st.held) hold(st, stream as Duplex)
    const result = write(packet, stream, opts) // throws on a malformed packet: then nothing was sent
    if (st !== undefined) {
      packetOut(st, packet)
      if (st.held && (stream as Duplex).writableLength >= FLUSH_BYTES) flush(st, stream as Duplex)
    }
    return result
  }
  // mqtt.js switches number caching off through this property of the function
  Object.defineProperty(tapped, 'cacheNumbers', { get: () => write.cacheNumbers, set: (v: boolean) => { write.cacheNumbers = v } })
  mqttPacket.writeToStream = tapped
}

/**
 * A held stream is flushed early once this much waits in it: what a loop turn holds stays bounded,
 * and the slow-consumer watchdog, which reads the same buffer, sees a consumer's backlog rather than
 * packets merely held back (a turn that read 4 MB of publishes was counting as a slow subscriber).
 */
const FLUSH_BYTES = 64 * 1024

/** sockets corked by hold in this loop turn */
let held: Array<Duplex & Tapped> = []

/**
 * Corks `stream` until the next check phase. mqtt-packet's own cork ends on the next tick, which
 * aedes reaches after every single delivery (each runs in its own setImmediate); an immediate
 * queued now runs after the current batch of immediates, or after the poll phase that follows it.
 */
function hold (st: ConnState, stream: Duplex): void {
  stream.cork()
  st.held = true
  if (held.length === 0) setImmediate(release)
  held.push(stream)
}

function release (): void {
  const list = held
  held = []
  for (const stream of list) {
    const st = stream[kConn]
    // not held any more: flushed early or destroyed meanwhile (a stream held again is listed twice)
    if (st?.held === true) flush(st, stream)
  }
}

function flush (st: ConnState, stream: Duplex): void {
  st.held = false
  stream.uncork()
}

/**
 * A stream aedes closes right after a last packet (a refused CONNACK, a takeover) is destroyed, which
 * drops what is still corked: that is written first. On an error it is dropped, as it would be anyway.
 * Patched once on Duplex's prototype (an own property per stream would cost memory per connection);
 * other streams pass through.
 */
function flushOnDestroy (): void {
  const proto = Duplex.prototype
  if (patched.has(proto)) return
  patched.add(proto)
  const destroy = proto.destroy
  proto.destroy = function destroyHeld (this: Duplex & Tapped, err?: Error) {
    const st = this[kConn]
    if (st?.held === true) {
      st.held = false
      // mqtt-packet's cork of the current tick too: its uncork on the next tick is then a no-op
      if (err == null) while (this.writableCorked > 0) this.uncork()
    }
    return destroy.call(this, err)
  }
}

/** The parser emits a packet from `_newPacket`: seen here first, before aedes' 'packet' listener. */
function tapPacketReads (proto: ParserInternals): void {
  if (patched.has(proto)) return
  patched.add(proto)
  const newPacket = proto._newPacket
  proto._newPacket = function tappedNewPacket (this: ParserInternals): boolean {
    const st = this[kConn]
    if (st !== undefined && this.packet !== null) packetIn(st, this.packet)
    return newPacket.call(this)
  }
}

/**
 * Feeds the metrics, the connection's counters and the session's in-flight bookkeeping from the
 * packets aedes parses and writes on `stream`. Must be installed right after `aedes.handle`.
 */
export function tapConnection (client: unknown, stream: object, state: ConnState): void {
  const parser = (client as ClientWire)._parser
  tapPacketWrites()
  tapPacketReads(Object.getPrototypeOf(parser) as ParserInternals)
  parser[kConn] = state;
  (stream as Tapped)[kConn] = state
  if (stream instanceof Duplex && typeof (stream as { _writev?: unknown })._writev === 'function') {
    flushOnDestroy()
    state.coalesce = true
  }
}

// before aedes' own listener, so a QoS 2 refused for the in-flight limit is seen as such
function packetIn (state: ConnState, packet: WirePacket): void {
  const metrics = state.metrics
  const c = state.counters
  const type = TYPE[packet.cmd] ?? 0
  metrics.pktIn[type]!++
  c.recvPkt++
  const octets = wireLength(packet.length ?? 0)
  metrics.bytesIn += octets
  c.recvOct += octets
  const id = packet.messageId ?? -1
  if (type === PUBLISH) {
    const qos = packet.qos ?? 0
    metrics.msgIn[qos]!++
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
}

function packetOut (state: ConnState, packet: WirePacket): void {
  const metrics = state.metrics
  const c = state.counters
  const type = TYPE[packet.cmd] ?? 0
  metrics.pktOut[type]!++
  c.sendPkt++
  const octets = wireLength(remainingLength(type, packet))
  metrics.bytesOut += octets
  c.sendOct += octets
  const s = state.session
  if (type === PUBLISH) {
    const qos = packet.qos ?? 0
    metrics.msgOut[qos]!++
    c.sendMsg++
    if (s === null) return
    s.deliverMsg++
    const id = packet.messageId ?? -1
    if (qos > 0 && !s.inflight.has(id)) {
      s.inflight.add(id)
      // a fresh packet id on a resumed session is a queued message being drained
      if (s.mqueueLen > 0) s.mqueueLen--
    }
  } else if (type === PUBREL && s !== null) {
    // a PUBREL re-sent on session resume keeps its QoS 2 message in flight
    s.inflight.add(packet.messageId ?? -1)
  }
}

/** A packet's size on the wire from its Remaining Length: fixed header byte, length bytes [MQTT-2.2.3], the rest. */
function wireLength (remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4) + remaining
}

/** The Remaining Length of a packet the server sends (MQTT 3.1.1), from its fields: mqtt-packet computes it privately. */
function remainingLength (type: number, packet: WirePacket): number {
  switch (type) {
    case PUBLISH: return 2 + octetsOf(packet.topic) + ((packet.qos ?? 0) > 0 ? 2 : 0) + octetsOf(packet.payload)
    case SUBACK: return 2 + (packet.granted?.length ?? 0)
    case PINGRESP: return 0
    default: return 2 // CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet identifier or two flag bytes
  }
}

function octetsOf (v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v)
  return v instanceof Uint8Array ? v.length : 0
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
