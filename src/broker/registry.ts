/**
 * Live connections, sessions, subscriptions and routes of this node, fed by the aedes wiring in
 * broker.ts. Reads are cheap: sorted views are rebuilt lazily, only after a change, and counts are
 * kept incrementally so the stats never scan.
 */

import { QlobberDedup } from 'qlobber'
import type { Metrics } from './metrics.js'
import { parseShared, routeFilter } from './shared-topics.js'
import type { ConnInfo, QoS, RouteInfo, SessionInfo, SubscriptionInfo } from './types.js'

/** EMQ X v3 default session expiry for clean_start = false (zone.session_expiry_interval = 2h). */
export const DEFAULT_EXPIRY_SECONDS = 7200
/** a v5 Session Expiry Interval of 0xFFFFFFFF: the session does not expire [MQTT-3.1.2.11.2] */
const NEVER_EXPIRES = 0xFFFFFFFF

export interface SessionLimits {
  /** aedes' maxInflightInbound: QoS 2 receive window; 0 = unlimited */
  maxAwaitingRel: number
  /** offline queue bound (mqueue.ts); 0 = unlimited */
  maxMqueue?: number
}

/** A set of packet ids whose table is made on first add: most connections never hold one (memory per connection). */
export class PacketIds {
  private ids: Set<number> | null = null
  get size (): number { return this.ids?.size ?? 0 }
  has (id: number): boolean { return this.ids?.has(id) === true }
  add (id: number): void { (this.ids ??= new Set()).add(id) }
  delete (id: number): boolean { return this.ids?.delete(id) === true }
}

export class Session implements SessionInfo {
  connected = true
  mqueueLen = 0
  /** messages not queued because the offline queue held maxMqueue (mqueue.ts) */
  mqueueDropped = 0
  deliverMsg = 0
  enqueueMsg = 0
  /** aedes has no outgoing window and no subscription cap: 0 = unlimited */
  readonly maxInflight = 0
  readonly maxSubscriptions = 0
  /** epoch ms after which an offline session is discarded; 0 while connected (and for a v5 session that never expires) */
  expiresAt = 0
  // made on first use, like PacketIds' tables: an idle connection never needs them (memory per connection)
  private _subs: Map<string, QoS> | null = null
  private _inflight: PacketIds | null = null
  private _awaitingRel: PacketIds | null = null
  /** a v5 client's own Session Expiry Interval (s), from CONNECT or DISCONNECT; null: EMQ X's rule for 3.1.1 */
  sessionExpiry: number | null = null
  /** topic filter → granted QoS */
  get subs (): Map<string, QoS> { return (this._subs ??= new Map()) }
  /** packet ids of outgoing QoS 1/2 PUBLISH not yet completed (PUBACK, or PUBCOMP for QoS 2) */
  get inflight (): PacketIds { return (this._inflight ??= new PacketIds()) }
  /** packet ids of incoming QoS 2 PUBLISH awaiting PUBREL [MQTT-4.3.3] */
  get awaitingRel (): PacketIds { return (this._awaitingRel ??= new PacketIds()) }
  /** sorted view of `subs` keys, rebuilt lazily */
  sortedTopics: string[] | null = null

  constructor (
    readonly clientId: string,
    public username: string | null,
    readonly cleanStart: boolean,
    readonly createdAt: number,
    readonly maxAwaitingRel: number,
    readonly maxMqueue = 0
  ) {}

  get subscriptionsCount (): number { return this._subs?.size ?? 0 }
  get inflightLen (): number { return this._inflight?.size ?? 0 }
  get awaitingRelLen (): number { return this._awaitingRel?.size ?? 0 }
  /** seconds kept offline: an MQTT 5 client's own choice, EMQ X's default for 3.1.1 */
  get expiryInterval (): number { return this.sessionExpiry ?? (this.cleanStart ? 0 : DEFAULT_EXPIRY_SECONDS) }

  /** whether the session outlives its connection: for v5 by its expiry, not by Clean Start [MQTT-3.1.2-5] */
  get persistent (): boolean { return this.sessionExpiry === null ? !this.cleanStart : this.sessionExpiry > 0 }
  protoVer: 3 | 4 | 5 | undefined = undefined
  protoName: 'MQTT' | 'MQIsdp' | undefined = undefined

  topics (): string[] {
    this.sortedTopics ??= this._subs === null ? [] : [...this._subs.keys()].sort()
    return this.sortedTopics
  }
}

const byKey = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0
const isShared = (topic: string): boolean => parseShared(topic) !== null

/** where `clientId` is in `list` (sorted by client id), or where it would go */
function sortedIndex (list: readonly ConnInfo[], clientId: string): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.clientId < clientId) lo = mid + 1
    else hi = mid
  }
  return lo
}

export class Registry {
  private readonly conns = new Map<string, ConnInfo>()
  private readonly sess = new Map<string, Session>()
  /** topic filter → number of subscribers on this node */
  private readonly routeRefs = new Map<string, number>()
  /**
   * subscription topic (with any `$share/{group}/` prefix) → the client ids subscribed to it on this node,
   * one id as itself (most filters have one subscriber: no Set each): the matcher's entries, and "who
   * receives a/b/c" without a pass over every subscription
   */
  private readonly filterSubs = new Map<string, string | Set<string>>()
  /**
   * The same filters in a topic trie (qlobber, aedes' own matcher): "which filters match a/b/c?"
   * walks the topic's levels instead of testing every filter. Values are the registry's keys.
   */
  private readonly matcher = new QlobberDedup<string>({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true })
  private readonly nodes: readonly string[]
  private subCount = 0
  private sharedCount = 0
  private persistentCount = 0

  /**
   * The connections sorted by client id, kept so on each change (a binary search and a splice):
   * sorting 15,000 records took 30-100 ms of the loop here, paid by every API read after a change,
   * which during a connect storm is every read. Lists are handed out as a copy made once per change.
   */
  private readonly connSorted: ConnInfo[] = []
  private connView: ConnInfo[] | null = null
  private sessView: Session[] | null = null
  private subView: SubscriptionInfo[] | null = null
  private routeView: RouteInfo[] | null = null

  constructor (nodeName: string, private readonly metrics: Metrics, private readonly limits: SessionLimits) {
    this.nodes = Object.freeze([nodeName])
    this.publishStats()
  }

  // ---- reads ----

  get connectionCount (): number { return this.conns.size }
  get sessionCount (): number { return this.sess.size }
  get subscriptionCount (): number { return this.subCount }
  get routeCount (): number { return this.routeRefs.size }

  /** sorted by client id */
  connections (): readonly ConnInfo[] {
    this.connView ??= this.connSorted.slice()
    return this.connView
  }

  connection (clientId: string): ConnInfo | undefined {
    return this.conns.get(clientId)
  }

  /** sorted by client id; the entries are live (counters move in place) */
  sessions (): readonly SessionInfo[] {
    return this.sortedSessions()
  }

  session (clientId: string): SessionInfo | undefined {
    return this.sess.get(clientId)
  }

  /** sorted by (client id, topic) */
  subscriptions (): readonly SubscriptionInfo[] {
    if (this.subView === null) {
      const out: SubscriptionInfo[] = []
      for (const s of this.sortedSessions()) {
        for (const topic of s.topics()) out.push({ clientId: s.clientId, topic, qos: s.subs.get(topic) ?? 0 })
      }
      this.subView = out
    }
    return this.subView
  }

  subscriptionsOf (clientId: string): SubscriptionInfo[] {
    const s = this.sess.get(clientId)
    if (s === undefined) return []
    return s.topics().map(topic => ({ clientId, topic, qos: s.subs.get(topic) ?? 0 }))
  }

  /** sorted by topic filter */
  routes (): readonly RouteInfo[] {
    this.routeView ??= [...this.routeRefs.keys()].sort(byKey).map(topic => ({ topic, nodes: this.nodes }))
    return this.routeView
  }

  /** exact filter lookup (no wildcard matching), as an EMQ X route list of 0 or 1 entries */
  routesOf (topic: string): RouteInfo[] {
    return this.routeRefs.has(topic) ? [{ topic, nodes: this.nodes }] : []
  }

  lookupRoutes (topic: string): RouteInfo[] {
    return this.routesOf(topic)
  }

  /**
   * The subscribed filters (as listed, `$share/...` included) that match a concrete topic. As in
   * MQTT [MQTT-4.7.2-1], a topic starting with `$` is not matched by a filter starting with a wildcard.
   */
  matchingFilters (topic: string): ReadonlySet<string> {
    // qlobber may hand back its own set (one match): never changed here, only copied
    const found: ReadonlySet<string> = this.matcher.match(topic)
    if (!topic.startsWith('$')) return found
    return new Set([...found].filter(f => !/^[+#]/.test(routeFilter(f))))
  }

  /**
   * The subscriptions whose filter matches a concrete topic (matchingFilters), sorted by (client id,
   * topic) as subscriptions() is: O(matches), so it stays cheap while the full list changes under load.
   */
  subscriptionsMatching (topic: string): SubscriptionInfo[] {
    const out: SubscriptionInfo[] = []
    for (const f of this.matchingFilters(topic)) {
      const subs = this.filterSubs.get(f)
      for (const clientId of typeof subs === 'string' ? [subs] : subs ?? []) out.push({ clientId, topic: f, qos: this.sess.get(clientId)?.subs.get(f) ?? 0 })
    }
    return out.sort((a, b) => byKey(a.clientId, b.clientId) || byKey(a.topic, b.topic))
  }

  /** internal: the mutable session, for the wire tap and persistence tap */
  liveSession (clientId: string): Session | undefined {
    return this.sess.get(clientId)
  }

  /** the earliest expiry of an offline session (epoch ms; Infinity: none): the sweep scans only from then */
  private nextExpiryAt = Infinity

  /** offline sessions whose expiry has passed */
  expiredSessions (now: number): string[] {
    const out: string[] = []
    if (now < this.nextExpiryAt) return out
    let next = Infinity
    for (const s of this.sess.values()) {
      if (s.connected || s.expiresAt === 0) continue
      if (s.expiresAt <= now) out.push(s.clientId)
      else if (s.expiresAt < next) next = s.expiresAt
    }
    this.nextExpiryAt = next
    return out
  }

  private expiresAt (s: Session, at: number): void {
    s.expiresAt = at
    if (at > 0 && at < this.nextExpiryAt) this.nextExpiryAt = at
  }

  /** A restored session's v5 expiry, as stored when its client left (it survives the restart). */
  restoreExpiry (clientId: string, interval: number, disconnectedAt: number): void {
    const s = this.sess.get(clientId)
    if (s === undefined || s.connected) return
    s.sessionExpiry = interval
    this.expiresAt(s, interval >= NEVER_EXPIRES ? 0 : disconnectedAt + interval * 1000)
  }

  // ---- writes (broker wiring only) ----

  /**
   * A client finished CONNECT. A clean start discards any previous session [MQTT-3.1.2-6];
   * otherwise a stored one resumes [MQTT-3.1.2-4].
   */
  connected (info: ConnInfo): Session {
    const id = info.clientId
    let s = this.sess.get(id)
    if (s !== undefined && (info.cleanStart || s.cleanStart)) {
      this.dropSession(id)
      s = undefined
    }
    if (s === undefined) {
      s = new Session(id, info.username, info.cleanStart, info.connectedAt, this.limits.maxAwaitingRel, this.limits.maxMqueue)
      this.sess.set(id, s)
      if (!info.cleanStart) this.persistentCount++
      this.sessView = null
    } else {
      s.username = info.username
    }
    s.connected = true
    s.expiresAt = 0
    const at = sortedIndex(this.connSorted, id)
    if (this.conns.has(id)) this.connSorted[at] = info
    else this.connSorted.splice(at, 0, info)
    s.protoVer = info.protoVer
    s.protoName = info.protoName
    this.conns.set(id, info)
    this.connView = null
    this.publishStats()
    return s
  }

  /** A persistent session found in the persistence at start: listed offline until its client returns. */
  restoreOffline (clientId: string, subs: Iterable<[string, QoS]>, queued: number, now: number): void {
    if (this.sess.has(clientId)) return
    const s = new Session(clientId, null, false, now, this.limits.maxAwaitingRel, this.limits.maxMqueue)
    s.connected = false
    s.mqueueLen = queued
    this.expiresAt(s, now + s.expiryInterval * 1000)
    this.sess.set(clientId, s)
    this.persistentCount++
    this.sessView = null
    for (const [topic, qos] of subs) this.addSubscription(clientId, topic, qos)
    this.publishStats()
  }

  /** The connection of `info` closed. Only that exact connection is removed (a takeover may have replaced it). */
  disconnected (info: ConnInfo, now: number): void {
    if (this.conns.get(info.clientId) !== info) return
    this.conns.delete(info.clientId)
    this.connSorted.splice(sortedIndex(this.connSorted, info.clientId), 1)
    this.connView = null
    const s = this.sess.get(info.clientId)
    if (s !== undefined) {
      // aedes keeps a persistent session only through its stored subscriptions and queues
      const keep = s.persistent && (s.subscriptionsCount > 0 || s.inflightLen > 0 || s.mqueueLen > 0)
      if (keep) {
        s.connected = false
        this.expiresAt(s, s.expiryInterval >= NEVER_EXPIRES ? 0 : now + s.expiryInterval * 1000)
      } else {
        this.dropSession(info.clientId)
      }
    }
    this.publishStats()
  }

  addSubscription (clientId: string, topic: string, qos: QoS): void {
    const s = this.sess.get(clientId)
    if (s === undefined) return
    const had = s.subs.has(topic)
    s.subs.set(topic, qos)
    this.subView = null
    if (had) return
    s.sortedTopics = null
    this.subCount++
    if (isShared(topic)) this.sharedCount++
    // a shared subscription routes its real filter, as in EMQ X
    const route = routeFilter(topic)
    const refs = this.routeRefs.get(route) ?? 0
    this.routeRefs.set(route, refs + 1)
    if (refs === 0) this.routeView = null
    const subs = this.filterSubs.get(topic)
    if (subs === undefined) {
      this.filterSubs.set(topic, clientId)
      this.matcher.add(route, topic)
    } else if (typeof subs === 'string') this.filterSubs.set(topic, new Set([subs, clientId]))
    else subs.add(clientId)
    this.publishStats()
  }

  removeSubscription (clientId: string, topic: string): void {
    const s = this.sess.get(clientId)
    if (s === undefined || !s.subs.delete(topic)) return
    s.sortedTopics = null
    this.subView = null
    this.unref(clientId, topic)
    this.publishStats()
  }

  /** Replaces a session's subscriptions with what aedes actually holds (after a session restore). */
  resetSubscriptions (clientId: string, subs: Iterable<[string, QoS]>): void {
    const s = this.sess.get(clientId)
    if (s === undefined) return
    const next = new Map(subs)
    // a session with none keeps its table unmade (this runs for every CONNECT)
    const had = s.subscriptionsCount > 0 ? [...s.subs.keys()] : []
    for (const topic of had) {
      if (!next.has(topic)) this.removeSubscription(clientId, topic)
    }
    for (const [topic, qos] of next) this.addSubscription(clientId, topic, qos)
  }

  /**
   * The client registered its session on another node (a cluster): an offline copy here is no
   * longer this node's to expire. The store is left as it is (the other node uses it).
   */
  movedAway (clientId: string): void {
    const s = this.sess.get(clientId)
    if (s !== undefined && !s.connected) this.dropSession(clientId)
  }

  dropSession (clientId: string): void {
    const s = this.sess.get(clientId)
    if (s === undefined) return
    if (s.subscriptionsCount > 0) {
      for (const topic of s.subs.keys()) this.unref(clientId, topic)
      s.subs.clear()
    }
    this.sess.delete(clientId)
    if (!s.cleanStart) this.persistentCount--
    this.sessView = null
    this.subView = null
    this.publishStats()
  }

  setRetained (count: number): void {
    this.metrics.retained = count
    this.metrics.setStat('retained', count)
  }

  private unref (clientId: string, topic: string): void {
    this.subCount--
    if (isShared(topic)) this.sharedCount--
    const route = routeFilter(topic)
    const refs = (this.routeRefs.get(route) ?? 1) - 1
    if (refs > 0) {
      this.routeRefs.set(route, refs)
    } else {
      this.routeRefs.delete(route)
      this.routeView = null
    }
    const subs = this.filterSubs.get(topic)
    if (typeof subs === 'object') {
      subs.delete(clientId)
      if (subs.size === 1) this.filterSubs.set(topic, subs.values().next().value as string)
    } else if (subs !== undefined) {
      this.filterSubs.delete(topic)
      this.matcher.remove(route, topic)
    }
  }

  private sortedSessions (): Session[] {
    this.sessView ??= [...this.sess.values()].sort((a, b) => byKey(a.clientId, b.clientId))
    return this.sessView
  }

  private publishStats (): void {
    const m = this.metrics
    m.setStat('connections', this.conns.size)
    m.setStat('sessions', this.sess.size)
    m.setStat('sessions/persistent', this.persistentCount)
    m.setStat('subscriptions', this.subCount)
    m.setStat('subscriptions/shared', this.sharedCount)
    // EMQ X v3 keeps one subscriber row and one suboption row per (subscriber, filter) pair
    m.setStat('subscribers', this.subCount)
    m.setStat('suboptions', this.subCount)
    // one node: every route is a distinct topic filter
    m.setStat('topics', this.routeRefs.size)
    m.setStat('routes', this.routeRefs.size)
  }
}
