/**
 * emqx_retainer: keeps the last retained message per topic and delivers it on SUBSCRIBE, within its
 * limits (payload size, number of topics, age). Unloaded, retained messages are neither stored nor
 * delivered (those already stored stay, and are delivered again once it is loaded).
 *
 * aedes stores and reads retained messages through its persistence; this module wraps the
 * persistence's storeRetained / createRetainedStreamCombi before the broker taps them, and keeps an
 * index topic → stored-at (persisted in the store's kv) for the count limit and the expiry.
 */
import { Readable, Transform, pipeline } from 'node:stream'
import type { Plugin, PluginContext } from './plugin.js'
import type { SettingDef } from '../services/settings.js'

const NAME = 'emqx_retainer'
const SYS = '$SYS/'

export interface RetainPersistence {
  storeRetained (packet: { topic: string, payload?: Buffer | string }, ...rest: unknown[]): Promise<void>
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
  private persistence: RetainPersistence | null = null
  private sweep: NodeJS.Timeout | null = null
  private readonly ns: string

  constructor (private readonly ctx: PluginContext, private readonly sweepMs = 1000) {
    this.ns = `retained@${ctx.node}`
  }

  private get active (): boolean { return this.ctx.isActive(NAME) }

  /** Indexes the retained messages the persistence already holds; after aedes has set it up (MongoDB connects then). */
  async load (): Promise<void> {
    const p = this.persistence
    if (p === null) return
    const saved = await this.ctx.store.kv.all(this.ns)
    const now = Date.now()
    if (typeof p.createRetainedStream === 'function') {
      for await (const packet of p.createRetainedStream('#') as AsyncIterable<{ topic: string }>) {
        if (packet.topic.startsWith(SYS)) continue
        const at = saved[packet.topic]
        // stored before its time was recorded: its age counts from now
        if (!this.index.has(packet.topic)) this.index.set(packet.topic, typeof at === 'number' ? at : now)
      }
    }
    for (const topic of Object.keys(saved)) if (!this.index.has(topic)) this.forget(topic)
  }

  /** Wraps the persistence, before the broker taps it. */
  attach (p: RetainPersistence): void {
    this.persistence = p
    const store = p.storeRetained.bind(p)
    p.storeRetained = async (packet, ...rest) => {
      await store(packet, ...rest)
      if (packet.topic.startsWith(SYS)) return
      if ((packet.payload?.length ?? 0) > 0) this.remember(packet.topic, Date.now())
      else this.forget(packet.topic)
    }
    const read = p.createRetainedStreamCombi.bind(p)
    p.createRetainedStreamCombi = (patterns) => {
      if (!this.active) return Readable.from([])
      const src = read(patterns)
      if (this.expiryMs() === 0) return src
      const fresh = new Transform({
        objectMode: true,
        transform: (packet: { topic: string }, _enc, done) => {
          if (this.expired(packet.topic, Date.now())) {
            this.remove(packet.topic)
            done()
          } else done(null, packet)
        }
      })
      return pipeline(src, fresh, () => {})
    }
  }

  /** For a PUBLISH with the retain flag: keep it as the topic's retained message? */
  keep (topic: string, payload: Buffer): boolean {
    if (!this.active) return false
    if (payload.length === 0) { // clearing a retained message [MQTT-3.3.1-10]: frees its place now
      this.forget(topic)
      return true
    }
    if (payload.length > this.ctx.settings.number('retainer.max_payload_size')) return false
    const max = this.ctx.settings.number('retainer.max_retained_messages')
    // replacing a retained topic is fine; a new one beyond the limit is not kept
    if (max !== 0 && !this.index.has(topic) && this.index.size >= max) return false
    // counted now, not when the (possibly asynchronous) store finishes, so the next publish sees it
    if (!topic.startsWith(SYS)) this.remember(topic, Date.now())
    return true
  }

  start (): void {
    this.sweep = setInterval(() => { this.removeExpired() }, this.sweepMs)
    this.sweep.unref()
  }

  stop (): void {
    if (this.sweep !== null) clearInterval(this.sweep)
    this.sweep = null
  }

  private expiryMs (): number { return this.ctx.settings.number('retainer.expiry_interval') * 1000 }

  private expired (topic: string, now: number): boolean {
    const at = this.index.get(topic)
    const ms = this.expiryMs()
    return at !== undefined && ms > 0 && now - at >= ms
  }

  private removeExpired (): void {
    if (this.expiryMs() === 0) return
    const now = Date.now()
    for (const topic of this.index.keys()) if (this.expired(topic, now)) this.remove(topic)
  }

  /** Clears a retained message through the (tapped) persistence, so retained/count follows. */
  private remove (topic: string): void {
    const p = this.persistence
    if (p === null) return
    this.index.delete(topic)
    p.storeRetained({ topic, payload: Buffer.alloc(0), cmd: 'publish', qos: 0, retain: true, dup: false } as { topic: string, payload: Buffer })
      .catch((err: unknown) => this.ctx.log.warn({ topic, err: String(err) }, 'retainer: removing an expired message failed'))
  }

  private remember (topic: string, at: number): void {
    this.index.set(topic, at)
    this.ctx.store.kv.set(this.ns, topic, at).catch(() => {}) // the age restarts from boot if lost
  }

  private forget (topic: string): void {
    this.index.delete(topic)
    this.ctx.store.kv.delete(this.ns, topic).catch(() => {})
  }
}
