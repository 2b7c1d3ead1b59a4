/**
 * Per-connection guards aedes 1.2 lacks, installed on the aedes Client right after `aedes.handle`:
 * strict MQTT string and packet-id checks in its mqtt-packet parser, and a slow-consumer watchdog
 * that keeps one stalled subscriber from holding up delivery to everybody else.
 */

import { isUtf8 } from 'node:buffer'
import type { Duplex } from 'node:stream'

/** the mqtt-packet parser internals used here (mqtt-packet 9, absent from its typings) */
interface ParserInternals {
  _pos: number
  _list: { slice: (start: number, end: number) => Buffer }
  packet: { messageId?: number }
  _parseString: (maybeBuffer?: boolean) => string | null
  _parseMessageId: () => boolean
  _emitError: (err: Error) => void
}

/** the aedes Client internals used here (aedes 1.2) */
interface ClientInternals {
  _parser: ParserInternals
  conn: Duplex
  waitForDrain: (cb: (err: Error | null, client: unknown) => void) => void
  deliver0: (packet: unknown, cb: (err?: Error | null) => void) => void
}

export interface SlowConsumerOptions {
  /** bytes buffered for the socket (its writableLength) above which the client counts as slow */
  maxBytes: number
  /** how long it may stay slow before it is disconnected */
  seconds: number
  /** the client is being disconnected as a slow consumer */
  onSlow: () => void
  /** a QoS 0 message was not written because the client is slow */
  onDrop: () => void
}

/**
 * [MQTT-1.5.3-1] a UTF-8 encoded string must be well-formed (no surrogates, no overlongs) and
 * [MQTT-1.5.3-2] must not contain U+0000: the server closes the connection. mqtt-packet decodes
 * with replacement, so invalid bytes only show as U+FFFD: the bytes are re-checked only then.
 * Covers client id, will topic, user name, topic names and topic filters (every MQTT string).
 * [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet identifier;
 * an ack with 0 can only answer nothing, as the server never uses 0.
 */
export function strictParser (client: unknown): void {
  const parser = (client as ClientInternals)._parser
  const parseString = parser._parseString
  parser._parseString = function strictString (this: ParserInternals, maybeBuffer?: boolean): string | null {
    const start = this._pos + 2
    const s = parseString.call(this, maybeBuffer)
    if (s === null) return null
    // returning null makes the caller emit its parse error, which closes the connection
    if (s.includes('\u0000')) return null
    if (s.includes('\uFFFD') && !isUtf8(this._list.slice(start, this._pos))) return null
    return s
  }
  const parseMessageId = parser._parseMessageId
  parser._parseMessageId = function strictMessageId (this: ParserInternals): boolean {
    if (!parseMessageId.call(this)) return false
    if (this.packet.messageId !== 0) return true
    this._emitError(new Error('packet identifier 0 [MQTT-2.3.1-1]'))
    return false
  }
}

/**
 * aedes waits for 'drain' before completing a delivery, and the message emitter waits for every
 * subscriber: one client that stops reading stalls everybody (until aedes' 60 s drainTimeout).
 * Here writes never wait; QoS 0 messages for a client with more than `maxBytes` buffered are
 * dropped (EMQ X drops QoS 0 when its queue is full), and a client that stays above it for
 * `seconds`, or reaches twice it (QoS 1/2 and acks are never dropped), is disconnected. Memory per
 * connection stays near `2 × maxBytes`. The check runs only when a write reported backpressure.
 */
export function slowConsumerGuard (client: unknown, opts: SlowConsumerOptions): void {
  const c = client as ClientInternals
  const conn = c.conn
  let timer: NodeJS.Timeout | null = null
  const kill = (): void => {
    if (conn.destroyed) return
    opts.onSlow()
    conn.destroy()
  }
  const check = (): void => {
    const buffered = conn.writableLength
    if (buffered <= opts.maxBytes) return
    if (buffered > 2 * opts.maxBytes) return kill()
    timer ??= setTimeout(() => {
      timer = null
      if (conn.writableLength > opts.maxBytes) kill()
    }, opts.seconds * 1000)
    timer.unref()
  }
  conn.once('close', () => { if (timer !== null) clearTimeout(timer) })
  c.waitForDrain = (cb) => {
    check()
    setImmediate(cb, null, client)
  }
  const deliver0 = c.deliver0
  c.deliver0 = function guardedDeliver0 (packet, cb) {
    if (conn.writableLength > opts.maxBytes) {
      opts.onDrop()
      check()
      setImmediate(cb)
      return
    }
    deliver0.call(this, packet, cb)
  }
}
