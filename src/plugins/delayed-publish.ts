/**
 * emqx_delayed_publish: a PUBLISH to `$delayed/{seconds}/{topic}` is published to `{topic}` that
 * many seconds later (0..4294967, as EMQ X); a malformed one is dropped. Unloaded, `$delayed/...`
 * is an ordinary topic.
 *
 * Every pending message is written to the store's kv (namespace `delayed@<node>`) when it is taken,
 * so messages pending at shutdown (or at unload) are published after the restart (or reload): at
 * their due time, or at once when overdue.
 *
 * In a cluster the live nodes also take over the pending messages of a node that stopped or died
 * (by the membership records: see src/cluster/membership.ts), and publish them when due. Several
 * nodes may then hold a timer for one message (the survivors, its own node restarted): at its due
 * time a node first deletes it from the store and publishes it only if that delete removed it, so
 * exactly one of them does.
 */
import { randomUUID } from 'node:crypto'
import type { Plugin, PluginContext } from './plugin.js'
import type { Message, PublishRequest, QoS } from '../broker/broker.js'
import type { MemberRecord } from '../store/store.js'
import { isValidTopicName } from '../services/topics.js'
import { STALE_MS } from '../cluster/membership.js'

const NAME = 'emqx_delayed_publish'
const PREFIX = '$delayed/'
const NS = 'delayed@'
const MAX_DELAY_S = 4294967
/** setTimeout's longest delay; longer waits are chained */
const MAX_TIMER_MS = 2 ** 31 - 1
/** how often a cluster node looks for stopped nodes whose pending messages it should take over */
const TAKEOVER_CHECK_MS = 2000

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
  /** kv namespace → message id → its timer (this node's namespace, and those taken over) */
  private readonly timers = new Map<string, Map<string, NodeJS.Timeout>>()
  /** stopped node → the instance (run) of it whose pending messages were taken over */
  private readonly taken = new Map<string, string>()
  private check: NodeJS.Timeout | null = null
  private checking = false
  private readonly ns: string

  constructor (private readonly ctx: PluginContext, private readonly takeoverCheckMs = TAKEOVER_CHECK_MS) {
    this.ns = `${NS}${ctx.node}`
  }

  /**
   * Takes a message published to `$delayed/...` by `clientId` while loaded (true: the caller must not
   * route it). Returns false for any other topic, or while unloaded.
   */
  intercept (clientId: string | null, msg: Message): boolean {
    if (!msg.topic.startsWith(PREFIX) || !this.ctx.isActive(NAME)) return false
    const m = /^\$delayed\/(\d{1,7})\/(.+)$/.exec(msg.topic)
    const seconds = m ? Number(m[1]) : NaN
    const topic = m?.[2] ?? ''
    if (!(seconds <= MAX_DELAY_S) || !isValidTopicName(topic) || topic.startsWith(PREFIX)) {
      this.ctx.log.info({ topic: msg.topic }, 'delayed publish: malformed topic, dropped')
      return true
    }
    const p: Pending = { due: Date.now() + seconds * 1000, topic, payload: msg.payload.toString('base64'), qos: msg.qos, retain: msg.retain }
    if (clientId !== null) p.clientId = clientId
    const id = `${p.due.toString().padStart(15, '0')}-${randomUUID()}`
    const persisted = this.ctx.store.kv.set(this.ns, id, p).then(() => true, (err: unknown) => {
      this.ctx.log.warn({ topic, err: String(err) }, 'delayed publish: not persisted, it will not survive a restart')
      return false
    })
    this.schedule(this.ns, id, p, persisted)
    return true
  }

  /** Schedules what is pending in the store (after a restart or a reload); on MongoDB, watches for stopped cluster nodes. */
  async start (): Promise<void> {
    await this.scheduleAll(this.ns)
    if (this.ctx.store.kind !== 'mongo' || this.check !== null) return
    this.check = setInterval(() => {
      if (this.checking) return
      this.checking = true
      this.takeOver()
        .catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, 'delayed publish: taking over a stopped node failed'))
        .finally(() => { this.checking = false })
    }, this.takeoverCheckMs)
    this.check.unref()
  }

  /** Stops the timers; pending messages stay in the store. */
  stop (): void {
    if (this.check !== null) clearInterval(this.check)
    this.check = null
    for (const ns of [...this.timers.keys()]) this.cancel(ns)
    this.taken.clear()
  }

  /**
   * Schedules the pending messages of cluster members that stopped or died (no heartbeat for
   * STALE_MS, the rule of Membership.isLive), once per run of each; drops them when it is back.
   */
  private async takeOver (): Promise<void> {
    const now = Date.now()
    const live = (m: MemberRecord): boolean => m.running && m.heartbeatAt >= now - STALE_MS
    const members = await this.ctx.store.members.list()
    const self = members.find(m => m.name === this.ctx.node)
    // not in a cluster, or deemed stopped ourselves (then the others take over ours)
    if (self === undefined || !live(self)) return
    for (const m of members) {
      if (m.name === this.ctx.node || this.check === null) continue
      const ns = `${NS}${m.name}`
      if (live(m)) {
        // back (or a new run under its name): it publishes its own
        if (this.taken.delete(m.name)) this.cancel(ns)
      } else if (this.taken.get(m.name) !== m.instance) {
        await this.scheduleAll(ns)
        if (this.check === null) { this.cancel(ns); return } // unloaded meanwhile
        this.taken.set(m.name, m.instance)
      }
    }
  }

  private async scheduleAll (ns: string): Promise<void> {
    const saved = await this.ctx.store.kv.all(ns)
    for (const [id, p] of Object.entries(saved)) {
      if (this.timers.get(ns)?.has(id) !== true && isPending(p)) this.schedule(ns, id, p)
    }
  }

  private cancel (ns: string): void {
    for (const t of this.timers.get(ns)?.values() ?? []) clearTimeout(t)
    this.timers.delete(ns)
  }

  /** `persisted`: whether the kv write landed; it must land before the delete that claims the message */
  private schedule (ns: string, id: string, p: Pending, persisted: Promise<boolean> = Promise.resolve(true)): void {
    const wait = Math.max(0, p.due - Date.now())
    const t = setTimeout(() => {
      if (wait > MAX_TIMER_MS) return this.schedule(ns, id, p, persisted)
      this.timers.get(ns)?.delete(id)
      this.fire(ns, id, p, persisted).catch((err: unknown) => this.ctx.log.warn({ topic: p.topic, err: String(err) }, 'delayed publish failed'))
    }, Math.min(wait, MAX_TIMER_MS))
    t.unref()
    let byId = this.timers.get(ns)
    if (byId === undefined) this.timers.set(ns, byId = new Map())
    byId.set(id, t)
  }

  private async fire (ns: string, id: string, p: Pending, persisted: Promise<boolean>): Promise<void> {
    // only written messages can be claimed by another node
    if (await persisted) {
      let claimed: boolean
      try {
        claimed = await this.ctx.store.kv.delete(ns, id)
      } catch (err) {
        // a node's own message is published all the same (it stays stored: it may come again after a
        // restart); one taken over waits for the next check
        if (ns !== this.ns) {
          this.taken.delete(ns.slice(NS.length))
          throw err
        }
        this.ctx.log.warn({ topic: p.topic, err: String(err) }, 'delayed publish: the store is unavailable, publishing it without removing it')
        claimed = true
      }
      if (!claimed) return // another node published it
    }
    const req: PublishRequest = { topic: p.topic, payload: Buffer.from(p.payload, 'base64'), qos: p.qos, retain: p.retain }
    if (p.clientId !== undefined) req.clientId = p.clientId
    try {
      await this.ctx.broker().publish(req)
    } catch (err) {
      // not published (e.g. the broker is closing): put it back for a restart or another node
      await this.ctx.store.kv.set(ns, id, p).catch(() => {})
      throw err
    }
  }
}

function isPending (v: unknown): v is Pending {
  const p = v as Partial<Pending> | null
  return typeof p === 'object' && p !== null && typeof p.due === 'number' && typeof p.topic === 'string' &&
    typeof p.payload === 'string' && (p.qos === 0 || p.qos === 1 || p.qos === 2) && typeof p.retain === 'boolean'
}
