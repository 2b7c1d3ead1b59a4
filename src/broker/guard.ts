/**
 * Per-connection guards aedes 1.2 lacks: strict MQTT strings and packet ids and a frame-size limit
 * in its parser, and a slow-consumer watchdog that keeps one stalled subscriber from holding up
 * delivery to everybody. What each guard decides is here; where it hooks into aedes and
 * mqtt-packet is src/broker/upstream.ts.
 *
 * The settings are one object per broker, shared by all its clients, so a connection costs no
 * closures for them: memory per connection is one of the things this broker is measured on.
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
  /** closes a slow consumer's connection (an MQTT 5 client is sent DISCONNECT 0x97 first: disconnect.ts) */
  disconnect: (client: GuardedClient) => void
  /** a message was not written to the client: QoS 0 while it is slow, or beyond an MQTT 5 client's limits (v5-flow.ts) */
  onDrop: (client: object) => void
  /** the client sent a header above maxPacketSize, or more than heldBytes before CONNACK; its connection is being closed */
  onOversize: (client: object) => void
  /**
   * what a connection may send before its CONNACK (the CONNECT and the packets pipelined after it),
   * which aedes holds in memory until the client is authenticated; aedes itself bounds them by count
   * (queueLimit, 42 packets), which disconnected clients MQTT allows (3.1.1 section 3.1.4: a client need
   * not wait for CONNACK)
   */
  heldBytes: number
  /** MQTT 5 messages that may wait for a client's Receive Maximum window (0: no bound; v5-flow.ts) */
  maxHeld: number
  /** live Server Keep Alive, seconds: an MQTT 5 client asking for more (or none) is given this (0: off) */
  serverKeepAlive?: (() => number) | undefined
}

/** A guarded aedes client: its connection (public in aedes' typings). */
export interface GuardedClient {
  conn: Duplex
}

const kTimer = Symbol('slowTimer')
type Watched = GuardedClient & { [kTimer]?: NodeJS.Timeout | null }
const kHeld = Symbol('heldBytes')
type Held = GuardedClient & { [kHeld]?: number }

/**
 * [MQTT-1.5.3-1] a UTF-8 encoded string must be well-formed (no surrogates, no overlongs) and
 * [MQTT-1.5.3-2] must not contain U+0000: the server closes the connection. mqtt-packet decodes
 * with replacement, so invalid bytes only show as U+FFFD: the bytes are re-checked only then.
 * Covers client id, will topic, user name, topic names and topic filters (every MQTT string).
 */
export function validString (s: string, bytes: { slice: (start: number, end: number) => Uint8Array }, start: number, end: number): boolean {
  if (s.includes('\u0000')) return false
  return !s.includes('\uFFFD') || isUtf8(bytes.slice(start, end))
}

/**
 * [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet identifier;
 * an ack with 0 can only answer nothing, as the server never uses 0.
 */
export function validMessageId (id: number | undefined): boolean {
  return id !== 0
}

/**
 * A frame above maxPacketSize closes the connection on its header, before its body is buffered
 * (`close`: an MQTT 5 client is told why first). Packets that arrive before CONNACK wait in aedes'
 * queue: a connection that sends more than `heldBytes` of them (counted from their headers) is
 * closed, whatever their number.
 */
export function oversize (client: GuardedClient, guards: Guards, length: number, beforeConnack: boolean, close: () => void): boolean {
  const max = guards.maxPacketSize
  let over = max !== undefined && length > max()
  if (!over && beforeConnack) {
    // the remaining length plus the 2 to 5 bytes of the fixed header: counted as 2
    const c = client as Held
    const held = (c[kHeld] ?? 0) + length + 2
    c[kHeld] = held
    over = held > guards.heldBytes
  }
  if (!over) return false
  guards.onOversize(client)
  close()
  return true
}

/**
 * QoS 0 messages for a client with more than `slowBytes` buffered are dropped (EMQ X drops QoS 0
 * when its queue is full): true when this one is.
 */
export function dropQoS0 (client: GuardedClient, guards: Guards): boolean {
  if (client.conn.writableLength <= guards.slowBytes) return false
  guards.onDrop(client)
  checkSlow(client, guards)
  return true
}

/**
 * aedes waits for 'drain' before completing a delivery, and the message emitter waits for every
 * subscriber: one client that stops reading stalls everybody (until aedes' 60 s drainTimeout).
 * Here writes never wait; a client that stays above `slowBytes` for `slowSeconds`, or reaches twice
 * it (QoS 1/2 and acks are never dropped), is disconnected. Memory per connection stays near
 * `2 × slowBytes`. The check runs only when a write reported backpressure.
 */
export function checkSlow (c: Watched, guards: Guards): void {
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
  // ended: already closing with a DISCONNECT, its backlog lingering (conn.ts)
  if (c.conn.destroyed || c.conn.writableEnded) return
  guards.onSlow(c)
  guards.disconnect(c)
}
