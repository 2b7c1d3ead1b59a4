/**
 * A minimal MQTT 3.1.1 client over a raw TCP socket, just enough for load generation: CONNECT,
 * SUBSCRIBE, PUBLISH (QoS 0/1), PUBACK, DISCONNECT. Frames are built by hand (test/support/frames.ts)
 * so the load generator spends its CPU on the broker, not on a general-purpose client library.
 */
import net from 'node:net'
import { DISCONNECT, connectPacket, lengthBytes, str, subscribePacket, writeLength } from '../../test/support/frames.js'

const TYPE_CONNACK = 2
const TYPE_PUBLISH = 3
const TYPE_PUBACK = 4
const TYPE_SUBACK = 9

/**
 * A PUBLISH template for one topic and payload size: write() copies it into `out` at `at` with the
 * message id and the first 16 payload bytes (the caller's stamp) filled in, and returns the new offset.
 */
export class PublishTemplate {
  readonly size: number
  readonly #tpl: Buffer
  readonly #midAt: number
  readonly #payloadAt: number

  constructor (topic: string, qos: 0 | 1, payloadSize: number) {
    const t = str(topic)
    const body = t.length + (qos > 0 ? 2 : 0) + payloadSize
    this.size = 1 + lengthBytes(body) + body
    this.#tpl = Buffer.alloc(this.size)
    this.#tpl[0] = 0x30 | (qos << 1)
    let at = writeLength(this.#tpl, 1, body)
    t.copy(this.#tpl, at)
    at += t.length
    this.#midAt = qos > 0 ? at : -1
    this.#payloadAt = at + (qos > 0 ? 2 : 0)
  }

  write (out: Buffer, at: number, messageId: number, stamp: (payload: Buffer, offset: number) => void): number {
    this.#tpl.copy(out, at)
    if (this.#midAt >= 0) out.writeUInt16BE(messageId, at + this.#midAt)
    stamp(out, at + this.#payloadAt)
    return at + this.size
  }
}

export interface ConnectOptions {
  clientId: string
  clean?: boolean
  keepalive?: number
  timeoutMs?: number
}

/** payload is a view into the receive buffer: read it before returning */
export type OnPublish = (payload: Buffer, qos: number, messageId: number) => void

export class RawClient {
  onPublish: OnPublish | null = null
  onPuback: ((messageId: number) => void) | null = null
  /** PUBACK every received QoS 1 PUBLISH (batched per read) */
  autoAck = true
  closed = false
  readonly socket: net.Socket
  #rest: Buffer | null = null
  #pending = new Map<string, (rc: number) => void>()
  #nextMid = 1

  private constructor (socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { this.#onData(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      for (const done of this.#pending.values()) done(-1)
      this.#pending.clear()
    })
  }

  static async connect (port: number, opts: ConnectOptions): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' })
    const client = new RawClient(socket)
    const rc = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`CONNACK timeout for ${opts.clientId}`)) }, opts.timeoutMs ?? 15000)
      socket.once('error', (err) => { clearTimeout(timer); reject(err) })
      client.#pending.set('connack', (code) => { clearTimeout(timer); resolve(code) })
      socket.write(connectPacket(opts.clientId, opts.clean ?? true, opts.keepalive ?? 0))
    })
    if (rc !== 0) {
      socket.destroy()
      throw new Error(`CONNACK ${rc} for ${opts.clientId}`)
    }
    return client
  }

  async subscribe (filters: readonly string[], qos: number): Promise<void> {
    const mid = this.#mid()
    const rc = await new Promise<number>((resolve) => {
      this.#pending.set(`suback:${mid}`, resolve)
      this.socket.write(subscribePacket(mid, filters, qos))
    })
    if (rc < 0) throw new Error('connection closed before SUBACK')
  }

  write (buf: Buffer): boolean {
    return this.socket.write(buf)
  }

  /** DISCONNECT, then wait for the socket to close (destroyed after `timeoutMs`). */
  async close (timeoutMs = 3000): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.socket.destroy() }, timeoutMs)
      this.socket.once('close', () => { clearTimeout(timer); resolve() })
      this.socket.end(DISCONNECT)
    })
  }

  #mid (): number {
    const m = this.#nextMid
    this.#nextMid = m === 65535 ? 1 : m + 1
    return m
  }

  #onData (chunk: Buffer): void {
    const buf = this.#rest === null ? chunk : Buffer.concat([this.#rest, chunk])
    this.#rest = null
    let at = 0
    let acks: number[] | null = null
    const n = buf.length
    while (at < n) {
      if (n - at < 2) break
      // remaining length
      let len = 0
      let mul = 1
      let p = at + 1
      let complete = false
      for (let i = 0; i < 4 && p < n; i++) {
        const b = buf[p++] as number
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) { complete = true; break }
      }
      if (!complete || p + len > n) break
      const first = buf[at] as number
      const type = first >> 4
      if (type === TYPE_PUBLISH) {
        const qos = (first >> 1) & 3
        const topicLen = buf.readUInt16BE(p)
        let q = p + 2 + topicLen
        let mid = 0
        if (qos > 0) { mid = buf.readUInt16BE(q); q += 2 }
        this.onPublish?.(buf.subarray(q, p + len), qos, mid)
        if (qos === 1 && this.autoAck) (acks ??= []).push(mid)
      } else if (type === TYPE_PUBACK) {
        this.onPuback?.(buf.readUInt16BE(p))
      } else if (type === TYPE_CONNACK) {
        const done = this.#pending.get('connack')
        this.#pending.delete('connack')
        done?.(buf[p + 1] as number)
      } else if (type === TYPE_SUBACK) {
        const key = `suback:${buf.readUInt16BE(p)}`
        const done = this.#pending.get(key)
        this.#pending.delete(key)
        done?.(0)
      }
      at = p + len
    }
    if (at < n) this.#rest = Buffer.from(buf.subarray(at))
    if (acks !== null) {
      const out = Buffer.allocUnsafe(acks.length * 4)
      let o = 0
      for (const mid of acks) {
        out[o] = 0x40; out[o + 1] = 2; out.writeUInt16BE(mid, o + 2); o += 4
      }
      this.socket.write(out)
    }
  }
}
