/**
 * Counts MQTT control packets in a raw byte stream without parsing payloads.
 *
 * A packet is a fixed header byte (type << 4 | flags), a Remaining Length varint of 1–4 bytes
 * [MQTT-2.2.3], then that many bytes. Only the packet identifier is read out of the body (for
 * PUBLISH QoS>0 and the four acks) so callers can track in-flight state; everything else is skipped
 * by arithmetic, so the cost per chunk does not depend on payload size.
 */

export const PUBLISH = 3
export const PUBACK = 4
export const PUBREC = 5
export const PUBREL = 6
export const PUBCOMP = 7

/** Called once per complete packet. `id` is the packet identifier or -1 when the packet has none. */
export type PacketSink = (type: number, flags: number, id: number) => void

const enum St {
  Header, Length, TopicLenHi, TopicLenLo, SkipTopic, IdHi, IdLo, Skip, Broken
}

export class Framer {
  private st = St.Header
  private type = 0
  private flags = 0
  private remaining = 0
  private multiplier = 1
  private topicLen = 0
  private id = -1
  /** total bytes fed, including any after a malformed header */
  bytes = 0

  /** `limit`: the largest Remaining Length allowed; a larger header stops the scan and calls `exceeded` */
  constructor (private readonly sink: PacketSink, private readonly limit?: { max: () => number, exceeded: () => void }) {}

  /** Feeds a chunk as given to `socket.write` or emitted by `'data'`. */
  feed (chunk: Buffer | Uint8Array | string, encoding?: BufferEncoding): void {
    if (typeof chunk === 'string') {
      const len = Buffer.byteLength(chunk, encoding)
      // strings only ever carry topic or other text bytes: skip them without copying when possible
      if ((this.st === St.Skip || this.st === St.SkipTopic) && len <= this.pending()) {
        this.bytes += len
        this.advance(len)
        return
      }
      chunk = Buffer.from(chunk, encoding)
    }
    this.bytes += chunk.length
    this.scan(chunk)
  }

  private pending (): number {
    return this.st === St.SkipTopic ? this.topicLen : this.remaining
  }

  /** Skips `n` bytes that are known to fit inside the current skip state. */
  private advance (n: number): void {
    if (this.st === St.SkipTopic) {
      this.topicLen -= n
      this.remaining -= n
      if (this.topicLen === 0) this.st = St.IdHi
    } else {
      this.remaining -= n
      if (this.remaining === 0) this.done()
    }
  }

  private scan (buf: Uint8Array): void {
    const n = buf.length
    let i = 0
    while (i < n) {
      switch (this.st) {
        case St.Header: {
          const b = buf[i++] as number
          this.type = b >> 4
          this.flags = b & 0x0f
          this.remaining = 0
          this.multiplier = 1
          this.id = -1
          this.st = St.Length
          break
        }
        case St.Length: {
          const b = buf[i++] as number
          this.remaining += (b & 0x7f) * this.multiplier
          this.multiplier *= 128
          if (b < 0x80 && this.limit !== undefined && this.remaining > this.limit.max()) {
            this.st = St.Broken
            this.limit.exceeded()
          } else if (b < 0x80) this.body()
          // [MQTT-2.2.3]: at most four length bytes; the broker drops such a peer anyway
          else if (this.multiplier > 128 ** 4) this.st = St.Broken
          break
        }
        case St.TopicLenHi:
          this.topicLen = (buf[i++] as number) << 8
          this.remaining--
          this.st = St.TopicLenLo
          break
        case St.TopicLenLo:
          this.topicLen |= buf[i++] as number
          this.remaining--
          if (this.topicLen > this.remaining) this.st = St.Skip
          else this.st = this.topicLen > 0 ? St.SkipTopic : St.IdHi
          break
        case St.IdHi:
          if (this.remaining < 2) { this.st = St.Skip; break }
          this.id = (buf[i++] as number) << 8
          this.remaining--
          this.st = St.IdLo
          break
        case St.IdLo:
          this.id |= buf[i++] as number
          this.remaining--
          if (this.remaining === 0) this.done()
          else this.st = St.Skip
          break
        case St.SkipTopic:
        case St.Skip: {
          const k = Math.min(this.pending(), n - i)
          i += k
          this.advance(k)
          break
        }
        case St.Broken:
          return
      }
    }
  }

  /** Remaining Length is known: decide which body bytes matter. */
  private body (): void {
    if (this.remaining === 0) {
      this.done()
      return
    }
    if (this.type === PUBLISH) {
      // [MQTT-3.3.2-1] topic name first; a packet identifier follows only when QoS > 0
      this.st = (this.flags & 0x06) !== 0 ? St.TopicLenHi : St.Skip
    } else if (this.type >= PUBACK && this.type <= PUBCOMP) {
      this.st = St.IdHi
    } else {
      this.st = St.Skip
    }
  }

  private done (): void {
    this.st = St.Header
    this.sink(this.type, this.flags, this.id)
  }
}
