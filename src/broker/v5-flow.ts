/**
 * MQTT 5 limits a client sets on what the server sends it, which aedes 2 reads from CONNECT but does
 * not apply (its connect handler calls them advisory), and the identifiers of every subscription a
 * message matched. One OutboundFlow per MQTT 5 connection, fed by the wire tap (upstream.ts): every
 * PUBLISH aedes writes passes `outgoing` first, every acknowledgement the client sends passes
 * `incoming`. MQTT 3.1/3.1.1 connections have none and pay nothing.
 *
 * - Receive Maximum [MQTT-3.3.4-7]: at most that many QoS 1/2 PUBLISHes unacknowledged; the rest
 *   wait here in order and go as PUBACK/PUBCOMP (or a PUBREC with an error code) arrive. A message
 *   waiting here of a persistent session is in the store already (aedes stores before it writes).
 *   What waits is bounded as an offline queue (count) and a slow consumer's backlog (bytes) are.
 * - Maximum Packet Size [MQTT-3.1.2-24, -25]: a PUBLISH larger than the client accepts is discarded
 *   (counted as messages/dropped) and, QoS 1/2, finished as if acknowledged.
 * - Topic Alias Maximum [MQTT-3.3.2-8]: the first that many topics sent get an alias; later
 *   PUBLISHes to them carry the alias and an empty topic.
 * - Subscription Identifiers [MQTT-3.3.4-4]: aedes sends one copy of a message that matched several
 *   subscriptions of a client, with the identifier of one of them; the copy here carries all.
 */

import { generate } from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'

/** A PUBLISH as aedes hands it to mqtt-packet (aedes-packet's fields). */
export interface OutPacket {
  cmd: string
  qos?: number
  messageId?: number
  topic?: string | Buffer
  payload?: string | Buffer
  retain?: boolean
  properties?: Record<string, unknown>
}

/** What the client's CONNECT allows the server (MQTT 5, section 3.1.2.11). */
export interface FlowLimits {
  /** QoS 1/2 PUBLISHes unacknowledged at once; absent in CONNECT: 65535 */
  receiveMaximum: number
  /** the largest packet, fixed header included, the client accepts; 0: no limit but the protocol's */
  maximumPacketSize: number
  /** aliases the server may set; absent: 0 */
  topicAliasMaximum: number
}

/** The connection and session behind one flow (upstream.ts gives aedes' parts). */
export interface FlowPeer {
  /** writes `packet` now, through the wire tap (which asks `outgoing` again: it is let through) */
  send: (packet: OutPacket) => void
  /** a QoS 1/2 message too large to send: the session forgets it, as if acknowledged [MQTT-3.1.2-25] */
  discarded: (packet: OutPacket) => void
  /** a message not delivered to this client (messages/dropped) */
  dropped: () => void
  /** the client's subscriptions as aedes keeps them: filter → its Subscription Identifier */
  subscriptions: () => Record<string, { si?: number | undefined } | undefined>
}

const RECEIVE_MAXIMUM_DEFAULT = 65535
/** aliases we set on one connection at most: each keeps a topic for the connection's life (the client may allow 65535) */
const ALIASES_SET_MAX = 1024
const SUBSCRIPTION_ID_KEY = 'subscriptionIdentifier'
const PUBACK_ERROR = 0x80

/** The limits a v5 CONNECT's properties set (mqtt-packet's names). */
export function limitsOf (properties: { receiveMaximum?: number, maximumPacketSize?: number, topicAliasMaximum?: number } | undefined): FlowLimits {
  return {
    receiveMaximum: properties?.receiveMaximum ?? RECEIVE_MAXIMUM_DEFAULT,
    maximumPacketSize: properties?.maximumPacketSize ?? 0,
    topicAliasMaximum: Math.min(properties?.topicAliasMaximum ?? 0, ALIASES_SET_MAX)
  }
}

export class OutboundFlow {
  /** packet ids of QoS 1/2 PUBLISHes sent and not yet acknowledged */
  private readonly inflight = new Set<number>()
  /** QoS 1/2 PUBLISHes waiting for the window, oldest first */
  private held: OutPacket[] = []
  private heldFrom = 0
  /** topic and payload bytes of what waits */
  private heldBytes = 0
  /** topic → alias set on this connection */
  private readonly aliases = new Map<string, number>()
  /** the client used Subscription Identifiers on this connection, or its resumed session has them */
  private subIds = false

  /**
   * `bound`: most messages (0: no bound) and bytes waiting for the window; beyond either, a message is
   * dropped. `serverMaxPacketSize`: the remaining length the server accepts (0: no limit), told in CONNACK.
   */
  constructor (private readonly limits: FlowLimits, private readonly peer: FlowPeer, private readonly bound: { messages: number, bytes: number }, private readonly serverMaxPacketSize = 0) {}

  /**
   * `packet` is about to be written: the packet to write instead (a copy when aliased or given more
   * identifiers), or null when it waits for the window or is discarded.
   */
  outgoing (packet: OutPacket): OutPacket | null {
    if (packet.cmd !== 'publish') {
      // a PUBREL sent again on a resumed session: its QoS 2 message is in flight until PUBCOMP
      if (packet.cmd === 'pubrel') this.inflight.add(packet.messageId ?? 0)
      else if (packet.cmd === 'connack') return this.connack(packet)
      return packet
    }
    const qos = packet.qos ?? 0
    const id = packet.messageId ?? 0
    if (qos > 0 && !this.inflight.has(id)) {
      if (this.inflight.size >= this.limits.receiveMaximum || this.waiting() > 0) {
        this.hold(packet)
        return null
      }
      this.inflight.add(id)
    }
    return this.shape(packet)
  }

  /** a packet the client sent: an acknowledgement that ends a QoS 1/2 delivery opens the window */
  incoming (packet: { cmd: string, messageId?: number, reasonCode?: number, properties?: Record<string, unknown> }): void {
    switch (packet.cmd) {
      case 'puback':
      case 'pubcomp':
        this.acked(packet.messageId ?? 0)
        break
      case 'pubrec':
        // [MQTT-4.3.3]: a PUBREC with an error code ends the QoS 2 flow; otherwise it waits for PUBCOMP
        if ((packet.reasonCode ?? 0) >= PUBACK_ERROR) this.acked(packet.messageId ?? 0)
        break
      case 'subscribe':
        if (packet.properties?.[SUBSCRIPTION_ID_KEY] !== undefined) this.subIds = true
        break
    }
  }

  /** [MQTT-3.2.2.3.6]: our frame-size limit, as the size of the whole packet, in a successful CONNACK */
  private connack (packet: OutPacket & { reasonCode?: number }): OutPacket {
    // a resumed session's subscriptions are restored before CONNACK: their identifiers count from here
    const subs = this.peer.subscriptions()
    for (const filter in subs) if (subs[filter]?.si !== undefined) this.subIds = true
    if (this.serverMaxPacketSize <= 0 || (packet.reasonCode ?? 0) !== 0 || packet.properties?.maximumPacketSize !== undefined) return packet
    return { ...packet, properties: { ...packet.properties, maximumPacketSize: wireSize(this.serverMaxPacketSize) } } as OutPacket
  }

  /** messages waiting for the window */
  waiting (): number {
    return this.held.length - this.heldFrom
  }

  private hold (packet: OutPacket): void {
    const bytes = octets(packet.topic) + octets(packet.payload)
    if ((this.bound.messages > 0 && this.waiting() >= this.bound.messages) || this.heldBytes + bytes > this.bound.bytes) {
      // a persistent session keeps it in the store: it is sent again when the session resumes
      this.peer.dropped()
      return
    }
    this.heldBytes += bytes
    this.held.push(packet)
  }

  private acked (id: number): void {
    if (!this.inflight.delete(id)) return
    while (this.waiting() > 0 && this.inflight.size < this.limits.receiveMaximum) {
      const next = this.held[this.heldFrom++]!
      this.heldBytes -= octets(next.topic) + octets(next.payload)
      if (this.heldFrom === this.held.length) {
        this.held = []
        this.heldFrom = 0
      }
      // in flight before it is written: `outgoing` lets it through
      this.inflight.add(next.messageId ?? 0)
      this.peer.send(next)
    }
  }

  /** the packet as this client gets it: aliased, with every matching identifier, or null when too large */
  private shape (packet: OutPacket): OutPacket | null {
    let properties = packet.properties
    let topic = packet.topic
    let alias: number | undefined
    let newAlias = false
    const ids = this.identifiers(packet)
    if (ids !== undefined) properties = { ...properties, [SUBSCRIPTION_ID_KEY]: ids }
    if (this.limits.topicAliasMaximum > 0 && typeof topic === 'string' && topic !== '') {
      alias = this.aliases.get(topic)
      if (alias === undefined && this.aliases.size < this.limits.topicAliasMaximum) {
        alias = this.aliases.size + 1
        newAlias = true
      }
      if (alias !== undefined) {
        properties = { ...properties, topicAlias: alias }
        if (!newAlias) topic = ''
      }
    }
    const out = properties === packet.properties ? packet : { ...packet, topic, properties } as OutPacket
    if (this.limits.maximumPacketSize > 0 && tooLarge(out, this.limits.maximumPacketSize)) {
      if ((packet.qos ?? 0) > 0) {
        this.inflight.delete(packet.messageId ?? 0)
        this.peer.discarded(packet)
      }
      this.peer.dropped()
      return null
    }
    // the alias is the client's once a packet setting it was sent
    if (newAlias && alias !== undefined) this.aliases.set(topic as string, alias)
    return out
  }

  /**
   * Every Subscription Identifier of the client's subscriptions that `packet` matches, when it
   * matched more than the one aedes names; undefined: the packet is right as it is. A retained
   * message sent for a SUBSCRIBE carries that subscription's identifier only [MQTT-3.3.4-3], so a
   * PUBLISH with RETAIN set is left alone (a live one is too when retain-as-published kept the flag).
   */
  private identifiers (packet: OutPacket): number[] | undefined {
    const own = packet.properties?.[SUBSCRIPTION_ID_KEY]
    if (own !== undefined) this.subIds = true
    if (!this.subIds || packet.retain === true || typeof packet.topic !== 'string') return undefined
    const ids: number[] = []
    const subs = this.peer.subscriptions()
    for (const filter in subs) {
      const si = subs[filter]?.si
      if (si !== undefined && !ids.includes(si) && !isShared(filter) && matches(filter, packet.topic)) ids.push(si)
    }
    if (ids.length === 0 || (ids.length === 1 && ids[0] === own)) return undefined
    return ids
  }
}

/** `$share/{group}/…` and EMQ X's `$queue/…`: delivered by shared.ts, one member at a time */
function isShared (filter: string): boolean {
  return filter.startsWith('$share/') || filter.startsWith('$queue/')
}

/** Whether topic filter `filter` matches topic name `topic` [MQTT-4.7]. */
export function matches (filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with $
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const level = f[i]
    if (level === '#') return true
    if (i >= t.length) return false
    if (level !== '+' && level !== t[i]) return false
  }
  return f.length === t.length
}

/** Whether `packet` (MQTT 5) is larger than `max` bytes on the wire, fixed header included. */
function tooLarge (packet: OutPacket, max: number): boolean {
  // topic, packet id and payload alone, and the one byte of an empty property list
  const base = 2 + octets(packet.topic) + ((packet.qos ?? 0) > 0 ? 2 : 0) + octets(packet.payload) + 1
  if (wireSize(base) > max) return true
  if (packet.properties === undefined) return false
  // properties make it larger by an amount only mqtt-packet knows: measured when it could matter
  if (wireSize(base + PROPERTIES_BOUND) <= max && propertiesSmall(packet.properties)) return false
  return generate(packet as Packet, { protocolVersion: 5 }).length > max
}

/** properties without user properties, correlation data, content type or response topic: at most this many bytes */
const PROPERTIES_BOUND = 64
const SMALL = new Set(['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', SUBSCRIPTION_ID_KEY])

function propertiesSmall (properties: Record<string, unknown>): boolean {
  for (const k in properties) {
    if (properties[k] === undefined) continue
    if (!SMALL.has(k)) return false
    const v = properties[k]
    if (Array.isArray(v) && v.length > 8) return false
  }
  return true
}

function octets (v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v)
  return v instanceof Uint8Array ? v.length : 0
}

/** the size of a packet with this Remaining Length: one type byte, 1 to 4 length bytes, the rest */
function wireSize (remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4) + remaining
}

/**
 * Server Keep Alive [MQTT-3.2.2-21]: a client asking for no keep alive or more than `max` seconds is
 * held to `max`, which CONNACK tells it; undefined: its own value stands (or `max` is 0: off).
 */
export function serverKeepAlive (requested: number, max: number): number | undefined {
  if (max <= 0) return undefined
  return requested === 0 || requested > max ? max : undefined
}
