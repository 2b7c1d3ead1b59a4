/**
 * MQTT 3.1.1 frames built by hand: the bench's load generator (no client library's CPU in the
 * measurement) and the tests that must put exact, even malformed, bytes on the wire.
 */

/** bytes from numbers (one byte each), strings (UTF-8) and buffers */
export function bytes (...parts: Array<number | string | Buffer>): Buffer {
  return Buffer.concat(parts.map(b => typeof b === 'string' ? Buffer.from(b) : Buffer.isBuffer(b) ? b : Buffer.from([b])))
}

/** how many bytes the Remaining Length `n` takes [MQTT-2.2.3] */
export function lengthBytes (n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4
}

/** writes the Remaining Length `n` into `buf` at `at`; returns the offset after it */
export function writeLength (buf: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    buf[at++] = byte
  } while (n > 0)
  return at
}

/** the Remaining Length `n` as bytes */
export function varint (n: number): number[] {
  const out = Buffer.alloc(lengthBytes(n))
  writeLength(out, 0, n)
  return [...out]
}

/** fixed header `first`, the Remaining Length, then `body` */
export function frame (first: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + lengthBytes(body.length) + body.length)
  out[0] = first
  const at = writeLength(out, 1, body.length)
  body.copy(out, at)
  return out
}

/** a length-prefixed MQTT string [MQTT-1.5.3]; a Buffer is taken as raw bytes (invalid UTF-8 on purpose) */
export function str (s: Buffer | string): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const out = Buffer.allocUnsafe(2 + b.length)
  out.writeUInt16BE(b.length, 0)
  b.copy(out, 2)
  return out
}

function connect (flags: number, keepalive: number, payload: readonly Buffer[]): Buffer {
  return frame(0x10, Buffer.concat([bytes(str('MQTT'), 4, flags, keepalive >> 8, keepalive & 0xff), ...payload]))
}

/** CONNECT 3.1.1, keepalive 0, with raw connect flags and payload fields (client id, will, user name, password) */
export function connectFrame (flags: number, ...payload: Buffer[]): Buffer {
  return connect(flags, 0, payload)
}

/** CONNECT 3.1.1 for a client id, clean session or not */
export function connectPacket (clientId: string, clean: boolean, keepalive = 0): Buffer {
  return connect(clean ? 0x02 : 0x00, keepalive, [str(clientId)])
}

/** PUBLISH with a raw first byte (type, DUP, QoS, RETAIN); `id` only for QoS > 0 */
export function publishPacket (header: number, topic: Buffer | string, id: number | null, payload: Buffer | string = 'x'): Buffer {
  return frame(header, bytes(str(topic), ...(id === null ? [] : [id >> 8, id & 0xff]), payload))
}

export function subscribePacket (messageId: number, filters: readonly string[], qos: number): Buffer {
  const parts: Buffer[] = [Buffer.from([messageId >> 8, messageId & 0xff])]
  for (const f of filters) parts.push(str(f), Buffer.from([qos]))
  return frame(0x82, Buffer.concat(parts))
}

export function pubackPacket (messageId: number): Buffer {
  return Buffer.from([0x40, 2, messageId >> 8, messageId & 0xff])
}

export const DISCONNECT = Buffer.from([0xe0, 0])
