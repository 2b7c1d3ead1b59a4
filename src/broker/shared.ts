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
 * - Clustered: every node sees every message (the bus). Each node with a live member of the group
 *   claims the message in Redis (SET NX on group + publishing broker id + its message number); the
 *   one that wins delivers it to one of its own members by the strategy, so the group gets it once
 *   cluster-wide. The strategy then applies among the winner's members (which node wins is the
 *   first to ask). A member leaving sends its unacknowledged messages to another member on its own
 *   node; with none left there, a persistent member this node knows queues them, else they are
 *   dropped. A new message to a group with no live member on the publishing node queues
 *   nothing for offline persistent members when clustered (members elsewhere are not known there).
 */

import type { Aedes } from 'aedes'
import type { PersistenceLayer, PersistenceLike } from './persistence.js'
import type { QoS, SharedStrategy } from './types.js'
import { deliverTo, emitterOf, freshCounter, onClientPacket, ownerOf, takeMessageId, type Emitter, type MemberClient, type SubscriptionFunc } from './upstream.js'
import type { WirePacket } from './conn.js'
import { parseShared, topicMatches } from './shared-topics.js'

export const SHARED_STRATEGIES: readonly SharedStrategy[] = ['random', 'round_robin', 'sticky', 'hash']

interface Member {
  client: MemberClient
  qos: QoS
  func: SubscriptionFunc
}

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
  /**
   * Clustered: each node sees every message (the bus) and has members of its own; the first node to
   * claim a message for a group delivers it to one of its members, the others skip it.
   */
  claim?: (key: string) => Promise<boolean>
}

export class SharedSubscriptions {
  private aedes: Aedes | null = null
  /** shared topic ($share/g/f) → its group */
  private readonly groups = new Map<string, Group>()
  /** every client of this node, to find the one whose subscription aedes is adding */
  private readonly clients = new Set<MemberClient>()
  /** clean-session members' unacknowledged QoS 1/2 messages: packet id → group and message */
  private readonly inflight = new WeakMap<MemberClient, Map<number, { group: Group, msg: Message }>>()

  constructor (private readonly opts: SharedOptions) {}

  attach (aedes: Aedes): void { this.aedes = aedes }

  /** a new client (before it subscribes or restores its session) */
  track (client: unknown): void { this.clients.add(client as MemberClient) }
  untrack (client: unknown): void { this.clients.delete(client as MemberClient) }

  /** a persistent session found in the store at start, with its shared subscriptions */
  storedSession (clientId: string, subscriptions: Iterable<readonly [string, QoS]>): void {
    for (const [topic, qos] of subscriptions) {
      const group = this.groupOf(topic)
      group?.offline.set(clientId, qos)
    }
  }

  /** a client with this id is connected here: it no longer waits offline in any group (its restored subscriptions joined live) */
  connected (clientId: string): void {
    for (const [topic, g] of this.groups) if (g.offline.delete(clientId)) this.prune(topic, g)
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
    if (group.inEmitter) { setImmediate(done); return true }
    group.inEmitter = true
    this.emitter().on(group.filter, group.dispatch, done)
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
      if (m.client.closed) this.left(group, m)
    }
    if (group.members.length === 0 && group.inEmitter) {
      group.inEmitter = false
      this.emitter().removeListener(group.filter, group.dispatch)
    }
    this.prune(topic, group)
    setImmediate(done)
    return true
  }

  /** aedes asks which stored subscriptions a QoS 1/2 message is queued for: one persistent member of each group with no live member */
  readonly offlineLayer: PersistenceLayer = (next) => ({
    subscriptionsByTopic: async (topic: string) => {
      const subs = await next.subscriptionsByTopic(topic)
      // clustered, live members on other nodes are not known here: queue nothing (see the header)
      if (this.opts.claim !== undefined) return subs
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
      const claim = this.opts.claim
      if (claim === undefined) { this.send(group, msg, false, cb); return }
      // only a node with a live member claims (a node whose members are all closing leaves it to others)
      if (!group.members.some(m => !m.client.closed)) { cb(); return }
      claim(`${group.topic}\u0000${msg.brokerId ?? ''}\u0000${msg.brokerCounter ?? ''}`).then(
        won => { if (won) this.send(group, msg, false, cb); else cb() },
        (err: unknown) => {
          // the bus is down: deliver here rather than lose it (others may too)
          this.opts.log?.warn({ err: String(err) }, 'shared subscription: claim failed')
          this.send(group, msg, false, cb)
        })
    })
    this.groups.set(topic, group)
    return group
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
    if (qos === 0) { deliverTo(m.client, out, cb); return }
    if (m.client.clean) {
      out.messageId = takeMessageId(m.client)
      this.inflightOf(m.client).set(out.messageId, { group: g, msg })
      deliverTo(m.client, out, cb)
      return
    }
    // a persistent member: in its session first, as aedes queues its own subscribers' messages
    this.opts.store.outgoingEnqueue({ clientId: m.client.id }, out).then(() => {
      out.messageId = takeMessageId(m.client)
      deliverTo(m.client, out, cb)
    }, (err: unknown) => {
      this.opts.log?.warn({ clientId: m.client.id, err: String(err) }, 'shared subscription: could not queue')
      this.opts.dropped()
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
    await this.opts.store.outgoingEnqueue({ clientId: id }, { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos, retain: false, dup: false } as never)
      .catch(() => { this.opts.dropped() })
  }

  /** member `m` of `g` went away with its client */
  private left (g: Group, m: Member): void {
    if (!m.client.clean) { g.offline.set(m.client.id, m.qos); return }
    const pending = this.inflight.get(m.client)
    if (pending === undefined) return
    for (const [id, entry] of pending) {
      if (entry.group !== g) continue
      pending.delete(id)
      this.send(g, entry.msg, true, () => {})
    }
  }

  private inflightOf (client: MemberClient): Map<number, { group: Group, msg: Message }> {
    let m = this.inflight.get(client)
    if (m === undefined) this.inflight.set(client, m = new Map())
    return m
  }

  /** the member's PUBACK (QoS 1) or PUBREC (QoS 2: the member has the message) settles it */
  private watchAcks (client: MemberClient): void {
    if (!client.clean || this.inflight.has(client)) return
    const pending = this.inflightOf(client)
    onClientPacket(client, (p: WirePacket) => {
      if ((p.cmd === 'puback' || p.cmd === 'pubrec') && p.messageId !== undefined) pending.delete(p.messageId)
    })
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
