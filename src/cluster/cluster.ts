/**
 * Every per-node operation goes through a NodeApi, answered locally (LocalNode) or by a peer over
 * HTTP (RemoteNode, src/cluster/remote-node.ts), as emqx_mgmt.erl does with `Node =:= node()` /
 * rpc:call. Handlers never branch on "is this me?".
 */
import type {
  AlarmRecordWire, AlarmWire, BrokerInfoWire, ConfigItemWire, ConnectionWire, ListenerWire, MetricsWire, NodeInfoWire,
  PluginConfigItemWire, PluginWire, Qos, RetainedMessageWire, RouteWire, SessionMessageWire, SessionWire, StatsWire, SubscriptionWire
} from '../core/wire.js'
import { ApiError, ReturnCode, errors } from '../core/errors.js'
import type { PromFamily } from '../services/prometheus.js'
import type { OnBehalf } from '../broker/types.js'
import type { ClientFilter, RouteFilter, SubscriptionFilter } from './list-filter.js'

export interface NodeApi {
  readonly name: string
  brokerInfo (): Promise<BrokerInfoWire>
  nodeInfo (): Promise<NodeInfoWire>
  /** sorted by client id; only those the filter matches (list-filter.ts) */
  connections (filter?: ClientFilter): Promise<ConnectionWire[]>
  connection (clientId: string): Promise<ConnectionWire[]>
  /** sorted by client id; only those the filter matches */
  sessions (filter?: ClientFilter): Promise<SessionWire[]>
  session (clientId: string): Promise<SessionWire[]>
  /** sorted by client id, then topic; only those the filter matches */
  subscriptions (filter?: SubscriptionFilter): Promise<SubscriptionWire[]>
  subscriptionsOf (clientId: string): Promise<SubscriptionWire[]>
  /** sorted by topic; only those the filter matches */
  routes (filter?: RouteFilter): Promise<RouteWire[]>
  routesOf (topic: string): Promise<RouteWire[]>
  listeners (): Promise<ListenerWire[]>
  metrics (): Promise<MetricsWire>
  stats (): Promise<StatsWire>
  alarms (): Promise<AlarmWire[]>
  /** the active alarms with their activation times (GET /alarms/activated) */
  activatedAlarms (): Promise<AlarmRecordWire[]>
  /** clears an active alarm and writes it to the history; false when it is not active here */
  deactivateAlarm (name: string): Promise<boolean>
  /** this node's Prometheus families (src/services/prometheus.ts), as prom-client JSON */
  prometheus (): Promise<PromFamily[]>
  /** the same as exposition text, with the `node` label (a scrape of this node alone) */
  prometheusText (): Promise<string>
  plugins (): Promise<PluginWire[]>
  loadPlugin (name: string): Promise<void>
  unloadPlugin (name: string): Promise<void>
  pluginConfigs (name: string): Promise<PluginConfigItemWire[]>
  setPluginConfigs (name: string, values: Record<string, string>): Promise<void>
  configs (): Promise<ConfigItemWire[]>
  /** `stored`: the value is as a node stored it (an import): a secret is already its hash */
  setConfig (app: string, key: string, value: string, opts?: { stored?: boolean }): Promise<void>
  /** false when the client is not connected here */
  kickout (clientId: string): Promise<boolean>
  cleanAclCache (clientId: string, topic: string): Promise<boolean>
  /** false when the client has neither a connection nor a session here */
  discardSession (clientId: string): Promise<boolean>
  /** retained messages matching a topic filter, sorted by topic (the set is shared by a cluster) */
  retainedMessages (filter: string, withPayload: boolean): Promise<RetainedMessageWire[]>
  /** removes the retained messages matching a topic filter; how many */
  removeRetained (filter: string): Promise<number>
  /** `reach` (default online): also an offline persistent session here, or (create) a new persistent session here */
  subscribe (clientId: string, filters: string[], qos: Qos, reach?: OnBehalf): Promise<boolean>
  unsubscribe (clientId: string, filters: string[], offline?: boolean): Promise<boolean>
  // ---- lists (issue 18) ----
  /** kicks those of the clients connected here (dryRun: none); the ones that were (would be) kicked */
  kickoutMany (clientIds: string[], dryRun: boolean): Promise<string[]>
  /** whether a subscription here (of a connected client or an offline session) matches any of the topics */
  hasSubscriber (topics: string[]): Promise<boolean>
  /** the session's queued or inflight messages in the store's order; null when this node has no session of it */
  sessionMessages (clientId: string, kind: 'mqueue' | 'inflight'): Promise<SessionMessageWire[] | null>
}

/** What GET /nodes/ and GET /brokers/ show of a member, live or stopped. */
export type MemberView = Pick<NodeApi, 'name' | 'brokerInfo' | 'nodeInfo'>

export interface Cluster {
  readonly self: string
  /** live nodes, sorted by name */
  nodes (): Promise<NodeApi[]>
  /** a live node by name; 404 when unknown */
  node (name: string): Promise<NodeApi>
  /** every known member, sorted by name: the live ones and those stopped (node_status "Stopped") */
  members (): Promise<MemberView[]>
}

export function isBadRpc (err: unknown): boolean {
  return err instanceof ApiError && err.code === ReturnCode.BADRPC
}

/** One node alone: the cluster is this process. */
export class SingleNodeCluster implements Cluster {
  constructor (private readonly local: NodeApi) {}

  get self (): string { return this.local.name }

  async nodes (): Promise<NodeApi[]> { return [this.local] }

  async node (name: string): Promise<NodeApi> {
    if (name !== this.local.name) throw errors.notFound('node_not_found')
    return this.local
  }

  async members (): Promise<MemberView[]> { return [this.local] }
}

/**
 * Runs fn on every live node and concatenates, in node order (stable pages across the cluster).
 * A peer that does not answer in time is left out (its heartbeat will soon drop it from the
 * cluster anyway) rather than failing or holding up the whole list; other errors propagate.
 */
export async function acrossNodes<T> (cluster: Cluster, fn: (n: NodeApi) => Promise<T[]>): Promise<readonly T[]> {
  const nodes = await cluster.nodes()
  const results = await Promise.allSettled(nodes.map(fn))
  // one node (or one answering): its list as it is, no copy of 10,000 entries per request
  const answered = results.filter(r => r.status === 'fulfilled')
  if (answered.length === 1 && results.every(r => r.status === 'fulfilled' || isBadRpc(r.reason))) return answered[0]!.value
  const out: T[] = []
  for (const r of results) {
    if (r.status === 'fulfilled') out.push(...r.value)
    else if (!isBadRpc(r.reason)) throw r.reason
  }
  return out
}

/**
 * Runs fn on every live node; true when any node did it (kickout, subscribe on behalf, ...).
 * When none did and a peer did not answer, the client may be on that peer: 503 badrpc, not "not found".
 */
export async function onAnyNode (cluster: Cluster, fn: (n: NodeApi) => Promise<boolean>): Promise<boolean> {
  const nodes = await cluster.nodes()
  const results = await Promise.allSettled(nodes.map(fn))
  if (results.some(r => r.status === 'fulfilled' && r.value)) return true
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason
  }
  return false
}
