/** NodeApi answered from this process: its aedes broker, registry, metrics, plugins and settings. */
import { loadavg } from 'node:os'
import { readdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import type { NodeApi } from './cluster.js'
import type { Broker, ConnInfo, SessionInfo, SubscriptionInfo } from '../broker/broker.js'
import type { OnBehalf } from '../broker/types.js'
import type {
  BrokerInfoWire, ConfigItemWire, ConnectionWire, ListenerWire, MetricsWire, NodeInfoWire,
  PluginConfigItemWire, Qos, RetainedMessageWire, RouteWire, SessionMessageWire, SessionWire, StatsWire, SubscriptionWire, AlarmRecordWire, AlarmWire, PluginWire
} from '../core/wire.js'
import type { Alarms } from '../services/alarms.js'
import { activatedWire, type AlarmHistory } from '../services/alarm-history.js'
import type { Plugins } from '../services/plugins.js'
import type { Settings } from '../services/settings.js'
import { datetime, orUndefined, uptime } from '../core/format.js'
import { errors } from '../core/errors.js'
import { NodePrometheus, type PromFamily } from '../services/prometheus.js'
import { clientPredicate, isEmpty, needsSession, shareOf, type ClientFilter, type RouteFilter, type SubscriptionFilter } from './list-filter.js'
import { routeFilter } from '../broker/shared-topics.js'

export const SYSDESCR = 'EMQ X Broker'

export interface LocalNodeDeps {
  broker: Broker
  alarms: Alarms
  alarmHistory: Pick<AlarmHistory, 'flush'>
  plugins: Plugins
  settings: Settings
  version: string
  startedAt: number
  /** the retained messages (the retainer plugin, over the persistence) */
  retained: RetainedSource
  /** extra listeners outside the broker (the management API itself) */
  httpListeners: () => ListenerWire[]
  /** audit log entries this node dropped (queue full) or failed to write */
  auditCounts?: () => { dropped: number, failed: number }
}

/** What the node reads and clears of the retained messages; the retainer plugin provides it. */
export interface RetainedSource {
  messages (filter: string): Promise<Array<{ topic: string, qos: Qos, payload: Buffer, storedAt: number | undefined, expiresAt: number | undefined }>>
  removeMessages (filter: string): Promise<number>
}

export class LocalNode implements NodeApi {
  constructor (private readonly d: LocalNodeDeps) {}

  get name (): string { return this.d.broker.nodeName }

  async brokerInfo (): Promise<BrokerInfoWire> {
    return {
      datetime: datetime(),
      node_status: 'Running',
      otp_release: `Node.js/${process.versions.node}`,
      sysdescr: SYSDESCR,
      uptime: uptime((Date.now() - this.d.startedAt) / 1000),
      version: this.d.version
    }
  }

  async nodeInfo (): Promise<NodeInfoWire> {
    const mem = process.memoryUsage()
    const [l1, l5, l15] = loadavg() as [number, number, number]
    const fds = fileDescriptors()
    return {
      connections: this.d.broker.registry.connectionCount,
      load1: l1.toFixed(2),
      load5: l5.toFixed(2),
      load15: l15.toFixed(2),
      max_fds: fds.max,
      memory_total: mem.rss,
      memory_used: mem.heapUsed,
      name: this.name,
      node_status: 'Running',
      otp_release: `Node.js/${process.versions.node}`,
      process_available: Math.max(fds.max - fds.used, 0),
      process_used: fds.used,
      uptime: uptime((Date.now() - this.d.startedAt) / 1000),
      version: this.d.version
    }
  }

  /**
   * Connection records never change once made, so each is formatted once and reused: a page of a
   * 10,000-client list then costs lookups, not 10,000 date formats on the event loop.
   */
  private readonly connWire = new WeakMap<ConnInfo, ConnectionWire>()
  private wireOf (c: ConnInfo): ConnectionWire {
    let w = this.connWire.get(c)
    if (w === undefined) this.connWire.set(c, w = formatConnection(c, this.name))
    return w
  }

  /** the registry's list is a new array only after a change: its wire list is made once per change */
  private connList: { of: readonly ConnInfo[], wires: ConnectionWire[] } | null = null

  /**
   * The client ids of the registry's list joined by U+0000 (no MQTT string holds one [MQTT-1.5.4-2]),
   * with each id's offset: `_like_clientid` is then one native substring search over the text,
   * jumping from match to match, instead of a visit to every connection record. Made once per change.
   */
  private idText: { of: readonly ConnInfo[], text: string, starts: number[] } | null = null

  private likeClientId (list: readonly ConnInfo[], sub: string): ConnInfo[] {
    if (this.idText?.of !== list) {
      const starts: number[] = []
      let at = 0
      for (const c of list) { starts.push(at); at += c.clientId.length + 1 }
      this.idText = { of: list, text: list.map(c => c.clientId).join('\u0000'), starts }
    }
    const { text, starts } = this.idText
    const out: ConnInfo[] = []
    for (let i = text.indexOf(sub); i >= 0;) {
      // the id the match starts in: the last start at or before it (binary search)
      let lo = 0
      let hi = starts.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (starts[mid]! <= i) lo = mid
        else hi = mid - 1
      }
      out.push(list[lo]!)
      // on to the next id: one match per id, in list order
      i = text.indexOf(sub, (starts[lo + 1] ?? text.length))
    }
    return out
  }

  async connections (filter?: ClientFilter): Promise<ConnectionWire[]> {
    const reg = this.d.broker.registry
    const list = reg.connections()
    if (filter !== undefined && !isEmpty(filter)) {
      // filtered on the raw records (epoch times, addresses), formatted from the cache
      const keep = clientPredicate(filter)
      // a session lookup per row is most of the cost of a filter over 15,000 connections: only when read
      const withSession = needsSession(filter)
      const like = filter.like_clientid
      const candidates = like !== undefined && like !== '' && !like.includes('\u0000') ? this.likeClientId(list, like) : list
      const out: ConnectionWire[] = []
      for (const c of candidates) if (keep({ conn: c, session: withSession ? reg.session(c.clientId) : undefined })) out.push(this.wireOf(c))
      return out
    }
    if (this.connList?.of !== list) this.connList = { of: list, wires: list.map(c => this.wireOf(c)) }
    return this.connList.wires
  }

  async connection (clientId: string): Promise<ConnectionWire[]> {
    const c = this.d.broker.registry.connection(clientId)
    return c ? [this.wireOf(c)] : []
  }

  async sessions (filter?: ClientFilter): Promise<SessionWire[]> {
    const reg = this.d.broker.registry
    const list = reg.sessions()
    if (filter === undefined || isEmpty(filter)) return list.map(s => this.formatSession(s))
    const keep = clientPredicate(filter)
    return list.filter(s => keep({ conn: reg.connection(s.clientId), session: s })).map(s => this.formatSession(s))
  }

  async session (clientId: string): Promise<SessionWire[]> {
    const s = this.d.broker.registry.session(clientId)
    return s ? [this.formatSession(s)] : []
  }

  private formatSession (s: SessionInfo): SessionWire {
    const c = this.d.broker.registry.connection(s.clientId)?.counters
    return formatSession(s, this.name, c ? c.recvPkt + c.sendPkt : 0)
  }

  private readonly subWire = new WeakMap<SubscriptionInfo, SubscriptionWire>()

  private subList: { of: readonly SubscriptionInfo[], wires: SubscriptionWire[] } | null = null

  async subscriptions (filter?: SubscriptionFilter): Promise<SubscriptionWire[]> {
    if (filter === undefined || isEmpty(filter)) return await this.allSubscriptions()
    const f = filter
    // who receives a topic: the subscriptions of the matching filters alone, never the whole list
    // (rebuilt after every change: 200,000 rows cost more than the query itself under load)
    const reg = this.d.broker.registry
    const rows = f.match_topic !== undefined
      ? reg.subscriptionsMatching(f.match_topic).map(s => formatSubscription(s, this.name))
      : f.clientid !== undefined ? await this.subscriptionsOf(f.clientid) : await this.allSubscriptions()
    return rows.filter(s =>
      (f.clientid === undefined || s.client_id === f.clientid) &&
      (f.topic === undefined || s.topic === f.topic) &&
      (f.qos === undefined || s.qos === f.qos) &&
      (f.share === undefined || shareOf(s.topic)?.group === f.share))
  }

  private async allSubscriptions (): Promise<SubscriptionWire[]> {
    const list = this.d.broker.registry.subscriptions()
    if (this.subList?.of !== list) {
      this.subList = {
        of: list,
        wires: list.map(s => {
          let w = this.subWire.get(s)
          if (w === undefined) this.subWire.set(s, w = formatSubscription(s, this.name))
          return w
        })
      }
    }
    return this.subList.wires
  }

  async subscriptionsOf (clientId: string): Promise<SubscriptionWire[]> {
    return this.d.broker.registry.subscriptionsOf(clientId).map(s => formatSubscription(s, this.name))
  }

  async routes (filter?: RouteFilter): Promise<RouteWire[]> {
    const reg = this.d.broker.registry
    // a shared subscription's route is its real filter
    const matching = filter?.match_topic !== undefined ? new Set([...reg.matchingFilters(filter.match_topic)].map(routeFilter)) : undefined
    const rows = matching === undefined ? reg.routes() : reg.routes().filter(r => matching.has(r.topic))
    return rows.flatMap(r => r.nodes.map(node => ({ topic: r.topic, node })))
  }

  async routesOf (topic: string): Promise<RouteWire[]> {
    return this.d.broker.registry.lookupRoutes(topic).flatMap(r => r.nodes.map(node => ({ topic: r.topic, node })))
  }

  async listeners (): Promise<ListenerWire[]> {
    const mqtt = this.d.broker.listeners().map(l => ({
      acceptors: l.acceptors,
      current_conns: l.currentConns,
      listen_on: l.listenOn,
      max_conns: l.maxConns,
      protocol: l.protocol,
      shutdown_count: Object.keys(l.shutdownCount).length ? l.shutdownCount : []
    }))
    return [...mqtt, ...this.d.httpListeners()]
  }

  async metrics (): Promise<MetricsWire> { return this.metricsNow() }

  /** the counters of GET /metrics, read at once (the Prometheus scrape reads the same) */
  private metricsNow (): MetricsWire {
    const audit = this.d.auditCounts?.()
    const all = this.d.broker.metrics.all() as MetricsWire
    return audit === undefined ? all : { ...all, 'audit/dropped': audit.dropped, 'audit/failed': audit.failed }
  }

  async stats (): Promise<StatsWire> {
    return this.d.broker.metrics.stats() as StatsWire
  }

  async alarms (): Promise<AlarmWire[]> { return this.d.alarms.list() }

  async activatedAlarms (): Promise<AlarmRecordWire[]> {
    const now = Date.now()
    return this.d.alarms.entries().map(a => activatedWire(a, now))
  }

  async deactivateAlarm (name: string): Promise<boolean> {
    if (!this.d.alarms.clear(name)) return false
    // written before the answer, so the caller's next GET /alarms/deactivated shows it
    await this.d.alarmHistory.flush()
    return true
  }

  /** made at the first scrape: a node nobody scrapes keeps no event-loop monitor */
  private prom: NodePrometheus | null = null

  async prometheus (): Promise<PromFamily[]> {
    return await this.nodePrometheus().families()
  }

  async prometheusText (): Promise<string> {
    return await this.nodePrometheus().text()
  }

  private nodePrometheus (): NodePrometheus {
    const m = this.d.broker.metrics
    this.prom ??= new NodePrometheus({ node: this.name, metrics: () => this.metricsNow(), stats: () => m.stats() })
    return this.prom
  }

  async plugins (): Promise<PluginWire[]> { return this.d.plugins.list() }

  async loadPlugin (name: string): Promise<void> { await this.d.plugins.load(name) }

  async unloadPlugin (name: string): Promise<void> { await this.d.plugins.unload(name) }

  async pluginConfigs (name: string): Promise<PluginConfigItemWire[]> {
    if (!this.d.plugins.has(name)) throw errors.notFound('plugin_not_found')
    return this.d.settings.list(name).map(s => ({ key: s.key, value: s.value, desc: s.desc, required: true }))
  }

  async setPluginConfigs (name: string, values: Record<string, string>): Promise<void> {
    if (!this.d.plugins.has(name)) throw errors.notFound('plugin_not_found')
    await this.d.settings.set(name, values)
  }

  async configs (): Promise<ConfigItemWire[]> {
    return this.d.settings.list().map(s => ({ key: s.key, value: s.value, datatpye: s.datatpye, app: s.app }))
  }

  async setConfig (app: string, key: string, value: string, opts: { stored?: boolean } = {}): Promise<void> {
    if (!this.d.settings.hasApp(app)) throw errors.notFound(`unknown app ${app}`)
    await this.d.settings.set(app, { [key]: value }, { stored: opts.stored === true })
  }

  async kickout (clientId: string): Promise<boolean> { return this.d.broker.kickout(clientId) }

  /** `#` forgets every cached decision of the client, another topic the decisions on that topic */
  async cleanAclCache (clientId: string, topic: string): Promise<boolean> {
    return this.d.broker.cleanAclCache(clientId, topic === '#' ? undefined : topic)
  }

  async discardSession (clientId: string): Promise<boolean> { return await this.d.broker.discardSession(clientId) }

  async retainedMessages (filter: string, withPayload: boolean): Promise<RetainedMessageWire[]> {
    return (await this.d.retained.messages(filter)).map(m => {
      const w: RetainedMessageWire = { topic: m.topic, qos: m.qos, payload_size: m.payload.length }
      if (m.storedAt !== undefined) w.publish_at = datetime(m.storedAt)
      if (m.expiresAt !== undefined) w.expire_at = datetime(m.expiresAt)
      if (withPayload) w.payload = m.payload.toString('base64')
      return w
    })
  }

  async removeRetained (filter: string): Promise<number> { return await this.d.retained.removeMessages(filter) }

  async subscribe (clientId: string, filters: string[], qos: Qos, reach: OnBehalf = 'online'): Promise<boolean> {
    return this.d.broker.subscribe(clientId, filters, qos, reach)
  }

  async unsubscribe (clientId: string, filters: string[], offline = false): Promise<boolean> {
    return this.d.broker.unsubscribe(clientId, filters, offline)
  }

  async kickoutMany (clientIds: string[], dryRun: boolean): Promise<string[]> {
    const reg = this.d.broker.registry
    const here = clientIds.filter(id => reg.connection(id) !== undefined)
    return dryRun ? here : here.filter(id => this.d.broker.kickout(id))
  }

  async hasSubscriber (topics: string[]): Promise<boolean> {
    return topics.some(t => this.d.broker.registry.matchingFilters(t).size > 0)
  }

  async sessionMessages (clientId: string, kind: 'mqueue' | 'inflight'): Promise<SessionMessageWire[] | null> {
    const all = await this.d.broker.sessionMessages(clientId)
    if (all === null) return null
    return all.filter(m => (m.packetId !== undefined) === (kind === 'inflight')).map(m => {
      const w: SessionMessageWire = { msgid: `${m.brokerId}:${m.brokerCounter}`, topic: m.topic, qos: m.qos, payload: m.payload.toString('base64'), payload_size: m.payload.length }
      if (m.publishedAt !== undefined) w.publish_at = datetime(m.publishedAt)
      if (m.expiresAt !== undefined) w.expire_at = datetime(m.expiresAt)
      if (m.packetId !== undefined) w.packet_id = m.packetId
      if (m.fromClientId !== undefined) w.from_clientid = m.fromClientId
      return w
    })
  }
}

/** The soft limit of open files, read once (it does not change while the process runs). */
const MAX_FDS = ((): number => {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()
    return /^\d+$/.test(out) ? Number(out) : 1024
  } catch {
    return 1024
  }
})()

/** Open file descriptors, from /proc where there is one. */
function fileDescriptors (): { used: number, max: number } {
  let used = 0
  try { used = readdirSync('/proc/self/fd').length } catch {}
  return { used, max: MAX_FDS }
}

function formatConnection (c: ConnInfo, node: string): ConnectionWire {
  return {
    clean_start: c.cleanStart,
    client_id: c.clientId,
    connected_at: datetime(c.connectedAt),
    ipaddress: c.ipaddress,
    is_bridge: c.isBridge,
    is_super: false,
    keepalive: c.keepalive,
    mountpoint: 'undefined',
    node,
    peercert: c.peercert,
    port: c.port,
    proto_name: c.protoName,
    proto_ver: c.protoVer,
    username: orUndefined(c.username),
    will_topic: orUndefined(c.willTopic),
    zone: 'external',
    expiry_interval: c.expiryInterval,
    receive_maximum: c.receiveMaximum,
    topic_alias_maximum: c.topicAliasMaximum,
    maximum_packet_size: c.maximumPacketSize
  }
}

function formatSession (s: SessionInfo, node: string, packets: number): SessionWire {
  return {
    awaiting_rel_len: s.awaitingRelLen,
    binding: 'local',
    clean_start: s.cleanStart,
    client_id: s.clientId,
    created_at: datetime(s.createdAt),
    deliver_msg: s.deliverMsg,
    enqueue_msg: s.enqueueMsg,
    expiry_interval: s.expiryInterval,
    heap_size: 0,
    inflight_len: s.inflightLen,
    mailbox_len: 0,
    max_awaiting_rel: s.maxAwaitingRel,
    max_inflight: s.maxInflight,
    max_mqueue: s.maxMqueue,
    max_subscriptions: s.maxSubscriptions,
    mqueue_dropped: s.mqueueDropped,
    mqueue_len: s.mqueueLen,
    node,
    reductions: packets,
    subscriptions_count: s.subscriptionsCount,
    username: orUndefined(s.username),
    ...s.protoVer === undefined ? {} : { proto_ver: s.protoVer, proto_name: s.protoName ?? 'MQTT' }
  }
}

function formatSubscription (s: SubscriptionInfo, node: string): SubscriptionWire {
  return { client_id: s.clientId, node, qos: s.qos, topic: s.topic }
}
