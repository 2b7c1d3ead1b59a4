/**
 * Per-connection state and what the wire tap does with the packets aedes parses and writes: feed
 * the metrics, the connection counters and the session's in-flight bookkeeping. How the tap reaches
 * inside mqtt-packet and the streams is src/broker/upstream.ts; this module touches no internals.
 *
 * The tap runs for every packet, so it costs no closure or wrapper per connection: the patched
 * functions find the connection's state through a symbol on the parser and on the stream. Octets are
 * counted per packet from its length, as EMQ X counts MQTT bytes (over WebSocket the frames'
 * payload, not their headers).
 *
 * Writes are also coalesced: a stream that writes batches (`_writev`: TCP and TLS sockets, and our
 * WebSocket streams, one frame per batch) is corked at its first packet of a loop turn and uncorked
 * once, on the next check phase, so the packets aedes writes one per setImmediate leave in one
 * writev instead of one syscall each (the syscall was over half of the broker's CPU per delivered
 * message).
 */

import type { Duplex } from 'node:stream'
import { generate, type Packet } from 'mqtt-packet'
import type { Metrics } from './metrics.js'
import { DEFAULT_EXPIRY_SECONDS, type Session } from './registry.js'
import type { Authorization, ConnCounters, ConnInfo, ListenerProtocol } from './types.js'

const PUBLISH = 3
const PUBACK = 4
const PUBREC = 5
const PUBREL = 6
const PUBCOMP = 7
const SUBACK = 9
const PINGRESP = 13
const DISCONNECT = 14

/** Bound of the per-client cache of each action's decisions (EMQ X v3 acl_cache_max_size default). */
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
  /** MQTT 5 CONNECT properties kept for the API [MQTT-3.1.2.11] */
  properties?: { sessionExpiryInterval?: number, receiveMaximum?: number, topicAliasMaximum?: number, maximumPacketSize?: number }
}

/** [MQTT-3.1.2.11.3]: a v5 client that sends no Receive Maximum accepts 65,535 */
const DEFAULT_RECEIVE_MAXIMUM = 65535

export class ConnState {
  /** captured in aedes' preConnect, before authentication */
  connect: ConnectSnapshot | null = null
  readonly counters: ConnCounters = { recvPkt: 0, sendPkt: 0, recvOct: 0, sendOct: 0, recvMsg: 0, sendMsg: 0 }
  /** set once authentication accepted the CONNECT */
  info: ConnInfo | null = null
  /** set once aedes registered the client */
  session: Session | null = null
  /** the aedes client of this connection (for the shared subscriptions' tracking, until it closes) */
  client: object | null = null
  /** explicit shutdown reason (kicked, takeover, …); otherwise derived when the socket closes */
  reason: string | null = null
  sawDisconnect = false
  errored = false
  /** closed with a server DISCONNECT: its next destroy ends the stream first (beforeDestroy) */
  linger = false
  /** ended so, and not destroyed yet */
  lingering = false
  /** the stream writes through hold/release: it writes a batch at once */
  coalesce = false
  /** corked by hold, until release or destroy */
  held = false
  /**
   * topic → decision, one map per action (a topic may be published to but not subscribed to), so
   * the key is the topic itself and a PUBLISH builds no key string; insertion-ordered for FIFO
   * eviction; made on first use
   */
  private aclPub: Map<string, Authorization> | null = null
  private aclSub: Map<string, Authorization> | null = null

  constructor (readonly listener: ListenerProtocol, readonly peer: Peer, readonly maxAwaitingRel: number, readonly metrics: Metrics) {}

  /**
   * The ConnInfo for this connection once the client id is known (aedes assigns one if empty).
   * It carries everything the CONNECT snapshot had: the snapshot is dropped here (idle memory).
   */
  toInfo (clientId: string): ConnInfo {
    const p = this.connect ?? { at: Date.now() }
    this.connect = null
    const v5 = p.protocolVersion === 5
    const props = v5 ? p.properties ?? {} : {}
    const cleanStart = p.clean !== false
    return {
      clientId,
      username: p.username ?? null,
      ipaddress: this.peer.ip,
      port: this.peer.port,
      keepalive: p.keepalive ?? 0,
      protoName: p.protocolId === 'MQIsdp' ? 'MQIsdp' : 'MQTT',
      protoVer: p.protocolVersion === 3 || p.protocolVersion === 5 ? p.protocolVersion : 4,
      isBridge: p.bridgeMode === true,
      cleanStart,
      connectedAt: p.at,
      willTopic: p.will?.topic ?? null,
      peercert: this.peer.peercert,
      listener: this.listener,
      counters: this.counters,
      // v5: the client's own choice [MQTT-3.1.2-23]; 3.1.1 has no such field, EMQ X's zone default applies
      expiryInterval: v5 ? props.sessionExpiryInterval ?? 0 : cleanStart ? 0 : DEFAULT_EXPIRY_SECONDS,
      receiveMaximum: props.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM,
      topicAliasMaximum: props.topicAliasMaximum ?? 0,
      maximumPacketSize: props.maximumPacketSize ?? 0
    }
  }

  /** Why the connection ended, in EMQ X shutdown-count terms. */
  shutdownReason (): string {
    if (this.reason !== null) return this.reason
    if (this.sawDisconnect) return 'closed' // [MQTT-3.14.4]: orderly DISCONNECT
    if (this.errored) return 'error'
    return 'tcp_closed' // peer went away without DISCONNECT
  }

  aclGet (action: 'pub' | 'sub', topic: string): Authorization | undefined {
    return (action === 'pub' ? this.aclPub : this.aclSub)?.get(topic)
  }

  aclSet (action: 'pub' | 'sub', topic: string, decision: Authorization): void {
    const acl = action === 'pub' ? (this.aclPub ??= new Map()) : (this.aclSub ??= new Map())
    if (acl.size >= ACL_CACHE_MAX) {
      const oldest = acl.keys().next()
      if (oldest.done !== true) acl.delete(oldest.value)
    }
    acl.set(topic, decision)
  }

  /** forgets the decisions on `topic` (both actions), or every decision when it is absent */
  aclClear (topic?: string): void {
    if (topic === undefined) {
      this.aclPub = null
      this.aclSub = null
      return
    }
    this.aclPub?.delete(topic)
    this.aclSub?.delete(topic)
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
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth'
].map((cmd, type) => [cmd, type]))

/** A packet as mqtt-packet parses or writes it: the fields the counters need. */
export interface WirePacket { cmd: string, qos?: number, messageId?: number, length?: number, topic?: unknown, payload?: unknown, granted?: unknown[] }

/**
 * A packet was written to a tapped connection's stream (src/broker/upstream.ts sees every
 * mqtt-packet writeToStream). Called before the write: a coalescing stream is corked at its first
 * packet of a loop turn.
 */
export function beforeWrite (st: ConnState, stream: Duplex): void {
  if (st.coalesce && !st.held) hold(st, stream)
}

/** After the write of `packet`: counted, and a held stream is flushed once it holds enough. */
export function afterWrite (st: ConnState, stream: Duplex, packet: WirePacket): void {
  packetOut(st, packet)
  if (st.held && stream.writableLength >= FLUSH_BYTES) flush(st, stream)
}

/**
 * A stream aedes closes right after a last packet (a refused CONNACK, a takeover) is destroyed, which
 * drops what is still corked: that is written first. On an error it is dropped, as it would be anyway.
 * A lingering stream (a server DISCONNECT, disconnect.ts) is ended instead, so that its buffered
 * writes still leave (a socket closed with unread input sends RST and drops its own output), and
 * destroyed once it closes or after LINGER_MS: true when the destroy was deferred so.
 */
export function beforeDestroy (st: ConnState, stream: Duplex, err: Error | null | undefined): boolean {
  if (st.held) {
    st.held = false
    // mqtt-packet's cork of the current tick too: its uncork on the next tick is then a no-op
    if (err == null) while (stream.writableCorked > 0) stream.uncork()
  }
  // lingering: aedes' own later destroys (a delivery after the close fails) wait too, until the
  // client has closed its side or everything was sent
  if (st.lingering) return !(stream.readableEnded || stream.writableFinished)
  if (!st.linger || err != null) return false
  st.linger = false
  if (stream.writableEnded || stream.destroyed) return false
  st.lingering = true
  stream.end()
  // aedes reads no more: what still arrives is discarded, so the client's close reaches 'end' (then the stream closes)
  stream.resume()
  // a client that reads nothing (a slow consumer) is not waited for long: memory stays bounded
  const timer = setTimeout(() => {
    st.lingering = false
    stream.destroy()
  }, LINGER_MS)
  timer.unref()
  stream.once('close', () => { clearTimeout(timer) })
  return true
}

/** how long a connection closed with a server DISCONNECT may take to send what it has buffered */
const LINGER_MS = 2000

/**
 * A held stream is flushed early once this much waits in it: what a loop turn holds stays bounded,
 * and the slow-consumer watchdog, which reads the same buffer, sees a consumer's backlog rather than
 * packets merely held back (a turn that read 4 MB of publishes was counting as a slow subscriber).
 */
const FLUSH_BYTES = 64 * 1024

/** streams corked by hold in this loop turn, and their states (a stream held again is listed twice) */
let heldStreams: Duplex[] = []
let heldStates: ConnState[] = []

/**
 * Corks `stream` until the next check phase. mqtt-packet's own cork ends on the next tick, which
 * aedes reaches after every single delivery (each runs in its own setImmediate); an immediate
 * queued now runs after the current batch of immediates, or after the poll phase that follows it.
 */
function hold (st: ConnState, stream: Duplex): void {
  stream.cork()
  st.held = true
  if (heldStreams.length === 0) setImmediate(release)
  heldStreams.push(stream)
  heldStates.push(st)
}

function release (): void {
  const streams = heldStreams
  const states = heldStates
  heldStreams = []
  heldStates = []
  for (let i = 0; i < streams.length; i++) {
    // not held any more: flushed early or destroyed meanwhile
    if (states[i]!.held) flush(states[i]!, streams[i]!)
  }
}

function flush (st: ConnState, stream: Duplex): void {
  st.held = false
  stream.uncork()
}

/** Feeds the metrics, the connection's counters and the session's in-flight bookkeeping from a parsed packet. */
// called before aedes' own listener, so a QoS 2 refused for the in-flight limit is seen as such
export function packetIn (state: ConnState, packet: WirePacket): void {
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
  // the CONNECT snapshot is dropped once the ConnInfo holds it (idle memory): either tells the version
  const v5 = (state.info?.protoVer ?? state.connect?.protocolVersion) === 5
  const octets = v5 ? v5Length(type, packet) : wireLength(remainingLength(type, packet))
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

const V5 = { protocolVersion: 5 }
const NO_PAYLOAD = Buffer.alloc(0)

/**
 * An MQTT 5 packet's size on the wire: its properties and reason codes vary too much to count
 * by hand, so mqtt-packet (the writer's own encoder) encodes it once more, a PUBLISH without its
 * payload (counted apart, not copied). Only MQTT 5 connections pay for it.
 */
function v5Length (type: number, packet: WirePacket): number {
  try {
    if (type !== PUBLISH) return generate(packet as Packet, V5).length
    const payload = octetsOf(packet.payload)
    const head = generate({ ...packet, payload: NO_PAYLOAD } as Packet, V5).length
    // the Remaining Length without the payload, from the header's size (its length field is 1 to 4 bytes)
    let rest = head - 2
    while (rest > 0 && wireLength(rest) > head) rest--
    return wireLength(rest + payload)
  } catch {
    return wireLength(remainingLength(type, packet))
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
