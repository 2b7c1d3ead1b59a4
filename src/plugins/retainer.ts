/**
 * emqx_retainer: keeps the last retained message per topic and delivers it on SUBSCRIBE, within its
 * limits (payload size, number of topics, age). Unloaded, retained messages are neither stored nor
 * delivered (those already stored stay, and are delivered again once it is loaded).
 *
 * aedes stores and reads retained messages through its persistence; this module is a layer of the
 * persistence chain (src/broker/persistence.ts) over storeRetained / createRetainedStreamCombi. Each stored
 * message carries the time it was stored (`retainedAt`), so whichever node reads it knows its age.
 * An index topic → stored-at serves the count limit and the expiry sweep:
 * - embedded store (one node): the index is the truth, persisted in the store's kv, because the
 *   SQLite persistence keeps only the packet fields aedes needs across a restart;
 * - MongoDB (aedes-persistence-mongodb keeps the whole packet): the retained messages are shared
 *   by every node using that database (a cluster), so the index is a copy of the shared set, read
 *   again from it while a limit is set, and the limits and the expiry apply cluster-wide as in
 *   EMQ X, whose retainer table is replicated on every node.
 */
import { Readable, Transform, pipeline } from 'node:stream'
import type { Plugin, PluginContext } from './plugin.js'
import type { SettingDef } from '../services/settings.js'

const NAME = 'emqx_retainer'
const SYS = '$SYS/'

export interface RetainedPacket {
  topic: string
  payload?: Buffer | string
  qos?: number
  /** epoch ms when it was stored; absent on messages stored before it was recorded */
  retainedAt?: number
}

/** A retained message as the API lists it. */
export interface RetainedMessage {
  topic: string
  qos: 0 | 1 | 2
  payload: Buffer
  /** epoch ms; unknown for a message stored before times were recorded */
  storedAt: number | undefined
  /** epoch ms, while retainer.expiry_interval is set */
  expiresAt: number | undefined
}

export interface RetainPersistence {
  storeRetained (packet: RetainedPacket, ...rest: unknown[]): Promise<void>
  createRetainedStream? (pattern: string): Readable
  createRetainedStreamCombi (patterns: string[]): Readable
}

const SETTINGS: SettingDef[] = [
  { key: 'retainer.expiry_interval', app: NAME, datatype: 'duration', datatpye: 'integer, duration', desc: 'Retained messages expire after this long: not delivered, then removed (0 = never)', default: '0' },
  { key: 'retainer.max_payload_size', app: NAME, datatype: 'bytesize', datatpye: 'bytesize', desc: 'Largest payload kept as a retained message', default: '1048576' },
  { key: 'retainer.max_retained_messages', app: NAME, datatype: 'integer', datatpye: 'integer', desc: 'Most retained topics kept; a new topic beyond it is not kept (0 = no limit)', default: '0' }
]

export class Retainer implements Plugin {
  readonly name = NAME
  readonly description = 'EMQ X Retainer'
  readonly defaultActive = true
  readonly settings = SETTINGS
  /** retained topic (outside $SYS) → epoch ms when it was stored */
  private readonly index = new Map<string, number>()
  /** changes made here while a refresh reads the persistence (null: clearing), applied over what it read */
  private changes: Map<string, number | null> | null = null
  private persistence: RetainPersistence | null = null
  private sweep: NodeJS.Timeout | null = null
  private readonly ns: string
  /** the retained messages are shared with other nodes (MongoDB) */
  private readonly shared: boolean
  private refreshing = false
  private refreshAfter = 0

  constructor (private readonly ctx: PluginContext, private readonly sweepMs = 1000) {
    this.ns = `retained@${ctx.node}`
    this.shared = ctx.store.kind === 'mongo'
  }

  private get active (): boolean { return this.ctx.isActive(NAME) }

  /** Indexes the retained messages the persistence already holds; after aedes has set it up (MongoDB connects then). */
  async load (): Promise<void> {
    if (this.persistence === null) return
    const saved = await this.ctx.store.kv.all(this.ns)
    const untimed = await this.refresh(saved)
    // a saved time is needed only by a retained message that does not carry its own
    for (const topic of Object.keys(saved)) {
      if (!untimed.has(topic)) this.ctx.store.kv.delete(this.ns, topic).catch(() => {})
    }
  }

  /**
   * The retainer's layer of the persistence chain: stamps what it stores, filters what it reads.
   * It reads and clears through the layers beneath it (`p`).
   */
  readonly layer = (p: RetainPersistence): Partial<RetainPersistence> => {
    this.persistence = p
    return {
      storeRetained: async (packet, ...rest) => {
        if (packet.topic.startsWith(SYS)) return await p.storeRetained(packet, ...rest)
        if ((packet.payload?.length ?? 0) === 0) {
          await p.storeRetained(packet, ...rest)
          this.forget(packet.topic)
          return
        }
        // a copy: aedes goes on to send this packet over the cluster bus
        const at = Date.now()
        await p.storeRetained({ ...packet, retainedAt: at }, ...rest)
        this.remember(packet.topic, at)
      },
      createRetainedStreamCombi: (patterns) => {
        if (!this.active) return Readable.from([])
        const src = p.createRetainedStreamCombi(patterns)
        if (this.expiryMs() === 0) return src
        const fresh = new Transform({
          objectMode: true,
          transform: (packet: RetainedPacket, _enc, done) => {
            if (this.expired(this.storedAt(packet), Date.now())) {
              this.remove(packet.topic)
              done()
            } else done(null, packet)
          }
        })
        return pipeline(src, fresh, () => {})
      }
    }
  }

  /**
   * The retained messages a topic filter matches (`$SYS/...` only by a filter that names `$SYS`,
   * as for a subscriber), expired ones left out, sorted by topic. Read from the persistence, which
   * a cluster shares: every node sees the same set.
   */
  async messages (filter: string): Promise<RetainedMessage[]> {
    const p = this.persistence
    if (p === null || typeof p.createRetainedStream !== 'function') return []
    const now = Date.now()
    const expiry = this.expiryMs()
    const out: RetainedMessage[] = []
    for await (const packet of p.createRetainedStream(filter) as AsyncIterable<RetainedPacket>) {
      if (packet.topic.startsWith(SYS) && !filter.startsWith(SYS)) continue
      const at = this.storedAt(packet)
      if (this.expired(at, now)) continue
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload ?? Buffer.alloc(0)
      out.push({ topic: packet.topic, qos: packet.qos === 1 || packet.qos === 2 ? packet.qos : 0, payload, storedAt: at, expiresAt: at !== undefined && expiry > 0 ? at + expiry : undefined })
    }
    return out.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
  }

  /** Removes the retained messages a topic filter matches (as clearing them by MQTT would); how many. */
  async removeMessages (filter: string): Promise<number> {
    const p = this.persistence
    if (p === null) return 0
    const found = await this.messages(filter)
    for (const m of found) {
      this.index.delete(m.topic)
      await p.storeRetained({ topic: m.topic, payload: Buffer.alloc(0), cmd: 'publish', qos: 0, retain: true, dup: false } as RetainedPacket)
      this.forget(m.topic)
    }
    return found.length
  }

  /** For a PUBLISH with the retain flag: keep it as the topic's retained message? */
  keep (topic: string, payload: Buffer): boolean {
    if (!this.active) return false
    if (payload.length === 0) { // clearing a retained message [MQTT-3.3.1-10]: frees its place now
      this.forget(topic)
      return true
    }
    if (payload.length > this.ctx.settings.number('retainer.max_payload_size')) return false
    const max = this.maxRetained()
    // replacing a retained topic is fine; a new one beyond the limit is not kept
    if (max !== 0 && !this.index.has(topic) && this.index.size >= max) return false
    // counted now, not when the (possibly asynchronous) store finishes, so the next publish sees it
    if (!topic.startsWith(SYS)) this.remember(topic, Date.now())
    return true
  }

  start (): void {
    this.sweep = setInterval(() => { this.tick() }, this.sweepMs)
    this.sweep.unref()
  }

  stop (): void {
    if (this.sweep !== null) clearInterval(this.sweep)
    this.sweep = null
  }

  private expiryMs (): number { return this.ctx.settings.number('retainer.expiry_interval') * 1000 }
  private maxRetained (): number { return this.ctx.settings.number('retainer.max_retained_messages') }

  private tick (): void {
    if (!this.shared) {
      this.removeExpired()
      return
    }
    // other nodes store and clear too: read the shared set again, then sweep what it holds. Only
    // while a limit needs the index, and scanning at most a tenth of the time on a large set.
    if (this.refreshing || (this.expiryMs() === 0 && this.maxRetained() === 0) || Date.now() < this.refreshAfter) return
    this.refreshing = true
    const began = Date.now()
    this.refresh()
      .then(() => { this.removeExpired() })
      .catch((err: unknown) => { this.ctx.log.warn({ err: String(err) }, 'retainer: reading the retained messages failed') })
      .finally(() => {
        this.refreshing = false
        this.refreshAfter = Date.now() + 9 * (Date.now() - began)
      })
  }

  /**
   * Reads every retained message's topic and stored-at time into the index; returns the topics
   * whose message does not carry its time (these keep the time they have, from `saved`, or now).
   */
  private async refresh (saved: Record<string, unknown> = {}): Promise<Set<string>> {
    const untimed = new Set<string>()
    const p = this.persistence
    if (p === null || typeof p.createRetainedStream !== 'function') return untimed
    const read = new Map<string, number>()
    const now = Date.now()
    this.changes = new Map()
    try {
      for await (const packet of p.createRetainedStream('#') as AsyncIterable<RetainedPacket>) {
        if (packet.topic.startsWith(SYS)) continue
        let at = packet.retainedAt
        if (typeof at !== 'number') {
          untimed.add(packet.topic)
          const s = saved[packet.topic]
          at = this.index.get(packet.topic) ?? (typeof s === 'number' ? s : now)
        }
        read.set(packet.topic, at)
      }
      for (const [topic, at] of this.changes) {
        if (at === null) read.delete(topic)
        else read.set(topic, at)
      }
    } finally {
      this.changes = null
    }
    this.index.clear()
    for (const [topic, at] of read) this.index.set(topic, at)
    return untimed
  }

  private storedAt (packet: RetainedPacket): number | undefined {
    return typeof packet.retainedAt === 'number' ? packet.retainedAt : this.index.get(packet.topic)
  }

  private expired (at: number | undefined, now: number): boolean {
    const ms = this.expiryMs()
    return at !== undefined && ms > 0 && now - at >= ms
  }

  private removeExpired (): void {
    if (this.expiryMs() === 0) return
    const now = Date.now()
    for (const [topic, at] of this.index) if (this.expired(at, now)) this.remove(topic)
  }

  /**
   * Clears a retained message through the layers beneath (the broker's observer is one: so
   * retained/count follows), then forgets it as a clear through this layer would. On a
   * shared store this is not conditional: a message retained on another node in the instant
   * between reading the old one and this removal is removed too.
   */
  private remove (topic: string): void {
    const p = this.persistence
    if (p === null) return
    this.index.delete(topic)
    p.storeRetained({ topic, payload: Buffer.alloc(0), cmd: 'publish', qos: 0, retain: true, dup: false } as RetainedPacket)
      .then(() => { this.forget(topic) })
      .catch((err: unknown) => this.ctx.log.warn({ topic, err: String(err) }, 'retainer: removing an expired message failed'))
  }

  private remember (topic: string, at: number): void {
    this.index.set(topic, at)
    this.changes?.set(topic, at)
    // the shared store keeps the time on the message itself
    if (!this.shared) this.ctx.store.kv.set(this.ns, topic, at).catch(() => {}) // the age restarts from boot if lost
  }

  private forget (topic: string): void {
    this.index.delete(topic)
    this.changes?.set(topic, null)
    if (!this.shared) this.ctx.store.kv.delete(this.ns, topic).catch(() => {})
  }
}
