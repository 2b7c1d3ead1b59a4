/**
 * Per-connection guards aedes 1.2 lacks, installed on each aedes Client right after `aedes.handle`:
 * strict MQTT string and packet-id checks and a frame-size limit in its mqtt-packet parser, and a
 * slow-consumer watchdog that keeps one stalled subscriber from holding up delivery to everybody.
 *
 * The parser checks and `waitForDrain` are patched once on the prototypes, and find their settings
 * through the client (one shared object per broker), so a connection costs no closures for them:
 * memory per connection is one of the things this broker is measured on.
 */

import { isUtf8 } from 'node:buffer'
import type { Duplex } from 'node:stream'

/** What a broker gives every client it guards: one object, shared by all its clients. */
export interface Guards {
  /** live limit on a packet's remaining length; a larger header closes the connection */
  maxPacketSize?: (() => number) | undefined
  /** bytes buffered for the socket (its writableLength) above which the client counts as slow */
  slowBytes: number
  /** how long it may stay slow before it is disconnected */
  slowSeconds: number
  /** the client is being disconnected as a slow consumer */
  onSlow: (client: object) => void
  /** a QoS 0 message was not written because the client is slow */
  onDrop: (client: object) => void
  /** the client sent a header above maxPacketSize; its connection is being closed */
  onOversize: (client: object) => void
}

const kGuards = Symbol('guards')
const kTimer = Symbol('slowTimer')

/** the mqtt-packet parser internals used here (mqtt-packet 9, absent from its typings) */
interface ParserInternals {
  _pos: number
  _list: { slice: (start: number, end: number) => Buffer }
  packet: { messageId?: number, length: number }
  client?: GuardedClient
  _parseString: (maybeBuffer?: boolean) => string | null
  _parseMessageId: () => boolean
  _parseLength: () => boolean
  _emitError: (err: Error) => void
}

/** the aedes Client internals used here (aedes 1.2) */
interface GuardedClient {
  _parser: ParserInternals
  conn: Duplex
  waitForDrain: (cb: (err: Error | null, client: unknown) => void) => void
  deliver0: (packet: unknown, cb: (err?: Error | null) => void) => void
  [kGuards]?: Guards
  [kTimer]?: NodeJS.Timeout | null
}

const patched = new WeakSet<object>()

/** Guards `client` (an aedes Client) with `guards`. */
export function guardClient (client: unknown, guards: Guards): void {
  const c = client as GuardedClient
  patchParser(Object.getPrototypeOf(c._parser) as ParserInternals)
  patchClient(Object.getPrototypeOf(c) as GuardedClient)
  c[kGuards] = guards
  // aedes makes deliver0 per client, in its constructor: it can only be wrapped here
  const deliver0 = c.deliver0
  // (called detached, as a subscription handler: `c`, not `this`)
  c.deliver0 = function guardedDeliver0 (packet, cb) {
    if (c.conn.writableLength > guards.slowBytes) {
      guards.onDrop(c)
      checkSlow(c, guards)
      setImmediate(cb)
      return
    }
    deliver0(packet, cb)
  }
}

/**
 * [MQTT-1.5.3-1] a UTF-8 encoded string must be well-formed (no surrogates, no overlongs) and
 * [MQTT-1.5.3-2] must not contain U+0000: the server closes the connection. mqtt-packet decodes
 * with replacement, so invalid bytes only show as U+FFFD: the bytes are re-checked only then.
 * Covers client id, will topic, user name, topic names and topic filters (every MQTT string).
 * [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet identifier;
 * an ack with 0 can only answer nothing, as the server never uses 0.
 * A frame above maxPacketSize closes the connection on its header, before its body is buffered.
 * Parsers of unguarded clients (mqtt.js in the same process, say) keep mqtt-packet's behaviour.
 */
function patchParser (proto: ParserInternals): void {
  if (patched.has(proto)) return
  patched.add(proto)
  const parseString = proto._parseString
  proto._parseString = function strictString (this: ParserInternals, maybeBuffer?: boolean): string | null {
    const start = this._pos + 2
    const s = parseString.call(this, maybeBuffer)
    if (s === null || this.client?.[kGuards] === undefined) return s
    // returning null makes the caller emit its parse error, which closes the connection
    if (s.includes('\u0000')) return null
    if (s.includes('\uFFFD') && !isUtf8(this._list.slice(start, this._pos))) return null
    return s
  }
  const parseMessageId = proto._parseMessageId
  proto._parseMessageId = function strictMessageId (this: ParserInternals): boolean {
    if (!parseMessageId.call(this)) return false
    if (this.packet.messageId !== 0 || this.client?.[kGuards] === undefined) return true
    this._emitError(new Error('packet identifier 0 [MQTT-2.3.1-1]'))
    return false
  }
  const parseLength = proto._parseLength
  proto._parseLength = function limitedLength (this: ParserInternals): boolean {
    if (!parseLength.call(this)) return false
    const client = this.client
    const max = client?.[kGuards]?.maxPacketSize
    if (client === undefined || max === undefined || this.packet.length <= max()) return true
    client[kGuards]?.onOversize(client)
    client.conn.destroy()
    return false
  }
}

/**
 * aedes waits for 'drain' before completing a delivery, and the message emitter waits for every
 * subscriber: one client that stops reading stalls everybody (until aedes' 60 s drainTimeout).
 * Here writes never wait; QoS 0 messages for a client with more than `slowBytes` buffered are
 * dropped (EMQ X drops QoS 0 when its queue is full), and a client that stays above it for
 * `slowSeconds`, or reaches twice it (QoS 1/2 and acks are never dropped), is disconnected. Memory
 * per connection stays near `2 × slowBytes`. The check runs only when a write reported backpressure.
 */
function patchClient (proto: GuardedClient): void {
  if (patched.has(proto)) return
  patched.add(proto)
  const waitForDrain = proto.waitForDrain
  proto.waitForDrain = function guardedWaitForDrain (this: GuardedClient, cb) {
    const guards = this[kGuards]
    if (guards === undefined) return waitForDrain.call(this, cb)
    checkSlow(this, guards)
    setImmediate(cb, null, this)
  }
}

function checkSlow (c: GuardedClient, guards: Guards): void {
  const buffered = c.conn.writableLength
  if (buffered <= guards.slowBytes) return
  if (buffered > 2 * guards.slowBytes) return disconnectSlow(c, guards)
  if (c[kTimer] != null) return
  // unref'd, and harmless when it fires after the connection closed
  const timer = setTimeout(() => {
    c[kTimer] = null
    if (c.conn.writableLength > guards.slowBytes) disconnectSlow(c, guards)
  }, guards.slowSeconds * 1000)
  timer.unref()
  c[kTimer] = timer
}

function disconnectSlow (c: GuardedClient, guards: Guards): void {
  if (c.conn.destroyed) return
  guards.onSlow(c)
  c.conn.destroy()
}
