/**
 * emqx_delayed_publish: a PUBLISH to `$delayed/{seconds}/{topic}` is published to `{topic}` that
 * many seconds later (0..4294967, as EMQ X); a malformed one is dropped. Unloaded, `$delayed/...`
 * is an ordinary topic.
 *
 * Every pending message is written to the store's kv when it is taken and deleted once published,
 * so messages pending at shutdown (or at unload) are published after the restart (or reload): at
 * their due time, or at once when overdue.
 */
import { randomUUID } from 'node:crypto'
import type { Plugin, PluginContext } from './plugin.js'
import type { PublishRequest, QoS } from '../broker/broker.js'
import { isValidTopicName } from '../services/topics.js'

const NAME = 'emqx_delayed_publish'
const PREFIX = '$delayed/'
const MAX_DELAY_S = 4294967
/** setTimeout's longest delay; longer waits are chained */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Pending {
  due: number
  topic: string
  payload: string // base64
  qos: QoS
  retain: boolean
  clientId?: string
}

export class DelayedPublish implements Plugin {
  readonly name = NAME
  readonly description = 'EMQ X Delayed Publish'
  readonly defaultActive = true
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly ns: string

  constructor (private readonly ctx: PluginContext) {
    this.ns = `delayed@${ctx.node}`
  }

  /**
   * Takes a message published to `$delayed/...` while loaded (true: the caller must not route it).
   * Returns false for any other topic, or while unloaded.
   */
  intercept (msg: PublishRequest): boolean {
    if (!msg.topic.startsWith(PREFIX) || !this.ctx.isActive(NAME)) return false
    const m = /^\$delayed\/(\d{1,7})\/(.+)$/.exec(msg.topic)
    const seconds = m ? Number(m[1]) : NaN
    const topic = m?.[2] ?? ''
    if (!(seconds <= MAX_DELAY_S) || !isValidTopicName(topic) || topic.startsWith(PREFIX)) {
      this.ctx.log.info({ topic: msg.topic }, 'delayed publish: malformed topic, dropped')
      return true
    }
    const p: Pending = { due: Date.now() + seconds * 1000, topic, payload: msg.payload.toString('base64'), qos: msg.qos, retain: msg.retain }
    if (msg.clientId !== undefined) p.clientId = msg.clientId
    const id = `${p.due.toString().padStart(15, '0')}-${randomUUID()}`
    const persisted = this.ctx.store.kv.set(this.ns, id, p).catch((err: unknown) => {
      this.ctx.log.warn({ topic, err: String(err) }, 'delayed publish: not persisted, it will not survive a restart')
    })
    this.schedule(id, p, persisted)
    return true
  }

  /** Schedules what is pending in the store (after a restart or a reload). */
  async start (): Promise<void> {
    const saved = await this.ctx.store.kv.all(this.ns)
    for (const [id, p] of Object.entries(saved)) {
      if (!this.timers.has(id) && isPending(p)) this.schedule(id, p)
    }
  }

  /** Stops the timers; pending messages stay in the store. */
  stop (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  /** `persisted`: the kv write, which must land before the delete that follows publishing */
  private schedule (id: string, p: Pending, persisted: Promise<void> = Promise.resolve()): void {
    const wait = Math.max(0, p.due - Date.now())
    const t = setTimeout(() => {
      if (wait > MAX_TIMER_MS) return this.schedule(id, p, persisted)
      this.timers.delete(id)
      this.fire(id, p, persisted).catch((err: unknown) => this.ctx.log.warn({ topic: p.topic, err: String(err) }, 'delayed publish failed'))
    }, Math.min(wait, MAX_TIMER_MS))
    t.unref()
    this.timers.set(id, t)
  }

  private async fire (id: string, p: Pending, persisted: Promise<void>): Promise<void> {
    const req: PublishRequest = { topic: p.topic, payload: Buffer.from(p.payload, 'base64'), qos: p.qos, retain: p.retain }
    if (p.clientId !== undefined) req.clientId = p.clientId
    await this.ctx.broker().publish(req)
    await persisted
    await this.ctx.store.kv.delete(this.ns, id)
  }
}

function isPending (v: unknown): v is Pending {
  const p = v as Partial<Pending> | null
  return typeof p === 'object' && p !== null && typeof p.due === 'number' && typeof p.topic === 'string' &&
    typeof p.payload === 'string' && (p.qos === 0 || p.qos === 1 || p.qos === 2) && typeof p.retain === 'boolean'
}
