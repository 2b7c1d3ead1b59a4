/**
 * Shared subscriptions (EMQ X 3.0): `$share/<group>/<filter>` and `$queue/<filter>` (the group
 * `$queue`). Each message matching the filter goes to one member of each group; plain subscribers
 * of the topic are not affected and groups are independent of one another.
 *
 * aedes 1.2 knows none of this: it would put each member's delivery in its emitter under the
 * literal `$share/...` filter, which matches no topic. Here aedes' subscribe/unsubscribe of such a
 * filter is taken (upstream.ts, patchBroker) and the member joins its group instead; a group puts
 * one dispatcher in the emitter under the real filter, which picks one live member per message by
 * the `broker.shared_subscription_strategy` read at that message. aedes still stores the
 * subscription with its prefix (the session keeps it, the API lists it so) and restores it.
 *
 * - QoS: the member's own subscription QoS capped by the message's; retain is cleared (a shared
 *   subscription gets no retained messages, nor the flag [MQTT-3.8.4]: aedes' retained read for the
 *   literal `$share/...` filter finds none).
 * - QoS 1/2 to a clean-session member are kept until its PUBACK/PUBREC; a member that goes away
 *   first has them sent to another member of the group (EMQ X's shared_dispatch_ack_enabled). A
 *   persistent member's messages are queued in its session first, as aedes does for its own, so
 *   they wait there when it goes away (not sent twice).
 * - A group with no live member: a QoS 1/2 message is queued for one of its persistent members
 *   (their sessions are offline; through the persistence layer `offlineLayer`, which aedes asks
 *   before it routes, so queue limits and counters apply); otherwise it is dropped and counted.
 * - Malformed filters in the shared namespace are refused before aedes reads them (shared-topics.ts).
 * - Clustered (a SharedBus, src/cluster/shared-bus.ts): every node sees every message (the bus).
 *   Each node with a live member (or an offline one it knows) asks the cluster for the member of
 *   the message; the first to ask decides by the strategy over every node's members, and the node
 *   holding that member delivers, so the group gets it once cluster-wide. A QoS 1/2 message stays
 *   recorded in Redis until the member has it; a member leaving has its unacknowledged messages
 *   picked again over the cluster, a dead node's are taken over by a survivor. With no live member
 *   anywhere, the pick names an offline persistent member, whose session the first asker queues
 *   it in (after the publisher's PUBACK, unlike `offlineLayer`).
 */

import type { Aedes } from 'aedes'
import type { PersistenceLayer, PersistenceLike } from './persistence.js'
import type { QoS, SharedBus, SharedStrategy } from './types.js'
import { deliverTo, emitterOf, freshCounter, onClientPacket, ownerOf, takeMessageId, type Emitter, type MemberClient, type SubscriptionFunc } from './upstream.js'
import type { WirePacket } from './conn.js'
import { parseShared, topicMatches } from './shared-topics.js'

/** how often a message picked for a member that just left is picked again cluster-wide before this node decides alone */
const MAX_REPICKS = 5

export const SHARED_STRATEGIES: readonly SharedStrategy[] = ['random', 'round_robin', 'sticky', 'hash']

interface Member {
  client: MemberClient
  qos: QoS
  func: SubscriptionFunc
}

interface Pending { group: Group, msg: Message, key?: string | undefined }

interface Message {
  topic: string
  payload: Buffer | string
  qos: number
  clientId?: string | undefined
  brokerId?: string | undefined
  brokerCounter?: number | undefined
}

class Group {
  readonly members: Member[] = []
  /** persistent members whose clients are gone: client id → subscription QoS */
  readonly offline = new Map<string, QoS>()
  next = 0
  sticky: Member | null = null
  inEmitter = false
  readonly dollarBlocked: boolean

  constructor (readonly topic: string, readonly filter: string, readonly dispatch: SubscriptionFunc) {
    this.dollarBlocked = filter.startsWith('+') || filter.startsWith('#')
  }
}

export interface SharedOptions {
  strategy: () => SharedStrategy
  /** one message not delivered */
  dropped: () => void
  /** the store beneath every layer: a copy queued for an online member is no offline enqueue to count */
  store: PersistenceLike
  log?: { warn: (o: object, msg?: string) => void }
  /** Clustered: the members of every node, and the pick of one per message (src/cluster/shared-bus.ts) */
  bus?: SharedBus
}

export class SharedSubscriptions {
  private aedes: Aedes | null = null
  /** shared topic ($share/g/f) → its group */
  private readonly groups = new Map<string, Group>()
  /** every client of this node, to find the one whose subscription aedes is adding */
  private readonly clients = new Set<MemberClient>()
  /** clean-session members' unacknowledged QoS 1/2 messages: packet id → group, message and (clustered) its key */
  private readonly inflight = new WeakMap<MemberClient, Map<number, Pending>>()
  /** clustered: the records (group \0 key) this node is delivering */
  private readonly mine = new Set<string>()

  constructor (private readonly opts: SharedOptions) {}

  attach (aedes: Aedes): void {
    this.aedes = aedes
    this.opts.bus?.attach({
      again: async (group, key, record, origin) => { await this.again(group, key, record, origin) },
      mine: () => this.mine
    })
  }

  /** a new client (before it subscribes or restores its session) */
  track (client: unknown): void { this.clients.add(client as MemberClient) }
  untrack (client: unknown): void { this.clients.delete(client as MemberClient) }

  /** a persistent session found in the store at start, with its shared subscriptions */
  storedSession (clientId: string, subscriptions: Iterable<readonly [string, QoS]>): void {
    for (const [topic, qos] of subscriptions) {
      const group = this.groupOf(topic)
      if (group === null) continue
      group.offline.set(clientId, qos)
      this.opts.bus?.offline(topic, clientId, qos)
      this.settle(topic, group)
    }
  }

  /** a client with this id is connected here: it no longer waits offline in any group (its restored subscriptions joined live) */
  connected (clientId: string): void {
    for (const [topic, g] of this.groups) {
      if (!g.offline.delete(clientId)) continue
      this.opts.bus?.forget(topic, clientId)
      this.settle(topic, g)
    }
  }

  /** an expired session is gone: queue nothing more for it */
  forget (clientId: string): void { this.connected(clientId) }

  /** aedes subscribes `func` to `topic`: true when it is a shared subscription, taken here */
  subscribe (topic: string, func: SubscriptionFunc, done: (err?: Error) => void): boolean {
    const group = this.groupOf(topic)
    if (group === null) return false
    const owner = ownerOf(this.clients, topic, func)
    if (owner === undefined) {
      // not a client of this node's listeners: leave it to aedes (it then matches nothing, as before)
      this.opts.log?.warn({ topic }, 'shared subscription of an unknown client')
      this.prune(topic, group)
      return false
    }
    const qos = ((owner.sub.qos ?? 0) > 2 ? 0 : owner.sub.qos ?? 0) as QoS
    group.members.push({ client: owner.client, qos, func })
    group.offline.delete(owner.client.id)
    this.watchAcks(owner.client)
    const listen = (): void => {
      // left while joining (clustered): nothing to listen for
      if (group.inEmitter || group.members.length === 0) { setImmediate(done); return }
      group.inEmitter = true
      this.emitter().on(group.filter, group.dispatch, done)
    }
    const bus = this.opts.bus
    if (bus === undefined) { listen(); return true }
    // the SUBACK waits until other nodes' picks count the member
    bus.join(topic, owner.client.id).then(listen, (err: unknown) => {
      this.opts.log?.warn({ topic, err: String(err) }, 'shared subscription: cluster join failed')
      listen()
    })
    return true
  }

  /** aedes unsubscribes `func` from `topic` (an UNSUBSCRIBE, or a closing client) */
  unsubscribe (topic: string, func: SubscriptionFunc, done: (err?: Error) => void): boolean {
    const group = this.groups.get(topic)
    if (group === undefined) return parseShared(topic) !== null ? (setImmediate(done), true) : false
    const i = group.members.findIndex(m => m.func === func)
    if (i >= 0) {
      const [m] = group.members.splice(i, 1) as [Member]
      if (group.sticky === m) group.sticky = null
      if (!group.members.some(o => o.client.id === m.client.id)) this.opts.bus?.leave(topic, m.client.id)
      if (m.client.closed) this.left(group, m)
    }
    this.settle(topic, group)
    setImmediate(done)
    return true
  }

  /** aedes asks which stored subscriptions a QoS 1/2 message is queued for: one persistent member of each group with no live member */
  readonly offlineLayer: PersistenceLayer = (next) => ({
    subscriptionsByTopic: async (topic: string) => {
      const subs = await next.subscriptionsByTopic(topic)
      // clustered, live members on other nodes are not known here: queue nothing (see the header)
      if (this.opts.bus !== undefined) return subs
      for (const g of this.groups.values()) {
        if (g.members.length > 0 || g.offline.size === 0 || !topicMatches(g.filter, topic)) continue
        const ids = [...g.offline.keys()]
        const id = ids[this.index(g, ids.length, undefined)] as string
        subs.push({ clientId: id, topic: g.topic, qos: g.offline.get(id) ?? 0 })
      }
      return subs
    }
  })

  private groupOf (topic: string): Group | null {
    const existing = this.groups.get(topic)
    if (existing !== undefined) return existing
    const parsed = parseShared(topic)
    if (parsed === null) return null
    const group: Group = new Group(topic, parsed.filter, (packet, cb) => {
      const msg = packet as Message & { topic: string }
      if (group.dollarBlocked && msg.topic.startsWith('$')) { cb(); return }
      if (this.opts.bus === undefined) { this.send(group, msg, false, cb); return }
      // only a node with a live member, or knowing an offline one, asks (a node whose members are all closing leaves it to others)
      if (group.offline.size === 0 && !group.members.some(m => !m.client.closed)) { cb(); return }
      this.clustered(group.topic, group, `${msg.brokerId ?? ''}\u0000${msg.brokerCounter ?? ''}`, msg, false, cb)
    })
    this.groups.set(topic, group)
    return group
  }

  /**
   * The group's dispatcher is in the emitter while it has members here, or (clustered) offline
   * persistent members this node knows: with no live member anywhere, a node that knows one asks
   * the pick, which names an offline member to queue for.
   */
  private settle (topic: string, g: Group): void {
    const want = g.members.length > 0 || (this.opts.bus !== undefined && g.offline.size > 0)
    if (!want && g.inEmitter) {
      g.inEmitter = false
      this.emitter().removeListener(g.filter, g.dispatch)
    } else if (want && !g.inEmitter && g.members.length === 0) {
      g.inEmitter = true
      this.emitter().on(g.filter, g.dispatch, () => {})
    }
    this.prune(topic, g)
  }

  private prune (topic: string, g: Group): void {
    if (g.members.length === 0 && g.offline.size === 0 && !g.inEmitter) this.groups.delete(topic)
  }

  private emitter (): Emitter {
    if (this.aedes === null) throw new Error('shared subscriptions: not attached to aedes')
    return emitterOf(this.aedes)
  }

  /** picks a live member; null: none */
  private pick (g: Group, msg: Message): Member | null {
    const live = g.members.filter(m => !m.client.closed)
    if (live.length === 0) return null
    if (this.opts.strategy() === 'sticky') {
      if (g.sticky === null || g.sticky.client.closed || !live.includes(g.sticky)) g.sticky = live[Math.floor(Math.random() * live.length)] as Member
      return g.sticky
    }
    return live[this.index(g, live.length, msg.clientId)] as Member
  }

  private index (g: Group, n: number, publisher: string | undefined): number {
    switch (this.opts.strategy()) {
      case 'round_robin': return g.next++ % n
      case 'hash': return fnv1a(publisher ?? '') % n
      default: return Math.floor(Math.random() * n)
    }
  }

  /** sends `msg` to one member of `g`; `again`: it was sent to a member that went away */
  private send (g: Group, msg: Message, again: boolean, cb: () => void): void {
    const m = this.pick(g, msg)
    if (m === null) {
      if (again && msg.qos > 0) this.queueOffline(g, msg).then(cb, cb)
      else { this.opts.dropped(); cb() }
      return
    }
    this.deliver(g, m, msg, again, undefined, cb)
  }

  /**
   * Clustered: the member of message `key` is picked cluster-wide (the first node to ask decides);
   * the node holding it delivers. `origin`: this node sends a recorded message again, so it asks
   * even without a member of its own and announces the new key to the others.
   */
  private clustered (topic: string, g: Group | undefined, key: string, msg: Message, origin: boolean, cb: () => void): void {
    const bus = this.opts.bus as SharedBus
    const record = msg.qos > 0 ? recordOf(msg) : ''
    bus.pick(topic, key, this.opts.strategy(), fnv1a(msg.clientId ?? ''), record).then(p => {
      if (origin) bus.announce(topic, key, record)
      if (p === null) { cb(); return }
      if (p.node === '') {
        // no live member anywhere: the node that asked first queues it for the offline member named, else counts the drop
        if (!p.first) { cb(); return }
        const qos = Math.min(p.qos ?? 0, msg.qos)
        if (p.clientId === '' || qos === 0) { this.opts.dropped(); cb(); return }
        this.opts.store.outgoingEnqueue({ clientId: p.clientId }, this.queued(msg, qos) as never)
          .then(cb, (err: unknown) => {
            this.opts.log?.warn({ clientId: p.clientId, err: String(err) }, 'shared subscription: could not queue')
            this.opts.dropped()
            cb()
          })
        return
      }
      if (p.node !== bus.node) { cb(); return }
      const m = g?.members.find(x => x.client.id === p.clientId && !x.client.closed)
      if (m === undefined || g === undefined) {
        // picked just as it left (or a member this node no longer has: it leaves for good)
        if (g?.members.some(x => x.client.id === p.clientId) !== true) bus.leave(topic, p.clientId)
        if (record === '') { this.opts.dropped(); cb(); return }
        // sent again under a new key, then this record goes; a few times at most, then here
        const next = (): void => { bus.done(topic, key); cb() }
        if (key.split('\u0000left').length > MAX_REPICKS && g !== undefined) this.send(g, msg, true, next)
        else this.clustered(topic, g, `${key}\u0000left`, msg, true, next)
        return
      }
      // a recorded message has no message number of its own: a fresh one
      this.deliver(g, m, msg, origin || msg.brokerId === undefined, record === '' ? undefined : key, cb)
    }, (err: unknown) => {
      // Redis is away: deliver here rather than lose it (another node may too)
      this.opts.log?.warn({ err: String(err) }, 'shared subscription: cluster pick failed')
      if (g === undefined) { this.opts.dropped(); cb(); return }
      this.send(g, msg, origin, cb)
    })
  }

  /** a recorded message (a dead node's, an orphan, a member's that left on another node) dispatched again */
  private async again (topic: string, key: string, record: string, origin: boolean): Promise<void> {
    const g = this.groups.get(topic)
    // not the announcer: only a node with a live member asks
    if (!origin && (g === undefined || !g.members.some(m => !m.client.closed))) return
    const msg = messageOf(record)
    if (msg === null) return
    await new Promise<void>(resolve => { this.clustered(topic, g, key, msg, origin, resolve) })
  }

  /** sends `msg` to member `m`; `key`: its cluster record, gone once the member has it */
  private deliver (g: Group, m: Member, msg: Message, again: boolean, key: string | undefined, cb: () => void): void {
    const qos = Math.min(m.qos, msg.qos)
    const out: Message & { cmd: 'publish', retain: false, dup: boolean, messageId?: number } = {
      cmd: 'publish',
      topic: msg.topic,
      payload: msg.payload,
      qos,
      retain: false,
      dup: false,
      // sent again: a new number, or the new member (which may have had later ones) takes it for a duplicate
      brokerId: again ? this.aedes?.id : msg.brokerId,
      brokerCounter: again && this.aedes !== null ? freshCounter(this.aedes) : msg.brokerCounter
    }
    if (msg.clientId !== undefined) out.clientId = msg.clientId
    const bus = this.opts.bus
    const field = key === undefined ? undefined : `${g.topic}\u0000${key}`
    const settled = (): void => {
      if (field === undefined || bus === undefined) return
      this.mine.delete(field)
      bus.done(g.topic, key as string)
    }
    if (qos === 0) { settled(); deliverTo(m.client, out, cb); return }
    if (field !== undefined) this.mine.add(field)
    if (m.client.clean) {
      out.messageId = takeMessageId(m.client)
      this.inflightOf(m.client).set(out.messageId, { group: g, msg, key })
      deliverTo(m.client, out, cb)
      return
    }
    // a persistent member: in its session first, as aedes queues its own subscribers' messages
    this.opts.store.outgoingEnqueue({ clientId: m.client.id }, out).then(() => {
      // in the session (the shared store, clustered): it no longer depends on this node
      settled()
      out.messageId = takeMessageId(m.client)
      deliverTo(m.client, out, cb)
    }, (err: unknown) => {
      this.opts.log?.warn({ clientId: m.client.id, err: String(err) }, 'shared subscription: could not queue')
      // clustered, the record stays: the sweep sends it again
      if (field !== undefined) this.mine.delete(field)
      else this.opts.dropped()
      cb()
    })
  }

  /** a group with no live member left: a persistent member's session takes the message, else it is dropped */
  private async queueOffline (g: Group, msg: Message): Promise<void> {
    const ids = [...g.offline.keys()]
    if (ids.length === 0) { this.opts.dropped(); return }
    const id = ids[this.index(g, ids.length, msg.clientId)] as string
    const qos = Math.min(g.offline.get(id) ?? 0, msg.qos)
    if (qos === 0) { this.opts.dropped(); return }
    await this.opts.store.outgoingEnqueue({ clientId: id }, this.queued(msg, qos) as never)
      .catch(() => { this.opts.dropped() })
  }

  /** a message for an offline session: a message number of this broker of its own (stores key a queue by it) */
  private queued (msg: Message, qos: number): object {
    const aedes = this.aedes
    return { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos, retain: false, dup: false, brokerId: aedes?.id, brokerCounter: aedes === null ? undefined : freshCounter(aedes) }
  }

  /** member `m` of `g` went away with its client */
  private left (g: Group, m: Member): void {
    if (!m.client.clean) {
      g.offline.set(m.client.id, m.qos)
      this.opts.bus?.offline(g.topic, m.client.id, m.qos)
      return
    }
    const pending = this.inflight.get(m.client)
    if (pending === undefined) return
    const bus = this.opts.bus
    for (const [id, entry] of pending) {
      if (entry.group !== g) continue
      pending.delete(id)
      const key = entry.key
      if (bus === undefined || key === undefined) { this.send(g, entry.msg, true, () => {}); continue }
      // clustered: picked again cluster-wide under a new key, then the old record goes
      this.clustered(g.topic, g, `${key}\u0000left`, entry.msg, true, () => {
        this.mine.delete(`${g.topic}\u0000${key}`)
        bus.done(g.topic, key)
      })
    }
  }

  private inflightOf (client: MemberClient): Map<number, Pending> {
    let m = this.inflight.get(client)
    if (m === undefined) this.inflight.set(client, m = new Map())
    return m
  }

  /** the member's PUBACK (QoS 1) or PUBREC (QoS 2: the member has the message) settles it */
  private watchAcks (client: MemberClient): void {
    if (!client.clean || this.inflight.has(client)) return
    const pending = this.inflightOf(client)
    onClientPacket(client, (p: WirePacket) => {
      if ((p.cmd !== 'puback' && p.cmd !== 'pubrec') || p.messageId === undefined) return
      const entry = pending.get(p.messageId)
      if (entry === undefined) return
      pending.delete(p.messageId)
      if (entry.key !== undefined) {
        this.mine.delete(`${entry.group.topic}\u0000${entry.key}`)
        this.opts.bus?.done(entry.group.topic, entry.key)
      }
    })
  }
}

/** a message as the cluster records it, to send it again from any node */
function recordOf (msg: Message): string {
  const payload = Buffer.isBuffer(msg.payload) ? msg.payload : Buffer.from(msg.payload)
  return JSON.stringify({ at: Date.now(), topic: msg.topic, payload: payload.toString('base64'), qos: msg.qos, clientId: msg.clientId })
}

function messageOf (record: string): Message | null {
  try {
    const r = JSON.parse(record) as { topic?: unknown, payload?: unknown, qos?: unknown, clientId?: unknown }
    if (typeof r.topic !== 'string' || typeof r.payload !== 'string' || typeof r.qos !== 'number') return null
    return { topic: r.topic, payload: Buffer.from(r.payload, 'base64'), qos: r.qos, clientId: typeof r.clientId === 'string' ? r.clientId : undefined }
  } catch {
    return null
  }
}

/** FNV-1a, 32 bits: the same member for the same publisher on every node */
function fnv1a (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}
