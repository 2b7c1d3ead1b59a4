/**
 * Every per-node operation goes through a NodeApi, answered locally or (later) by a peer, as
 * emqx_mgmt.erl does with `Node =:= node()` / rpc:call. Handlers never branch on "is this me?".
 */
import type {
  AlarmWire, BrokerInfoWire, ConfigItemWire, ConnectionWire, ListenerWire, MetricsWire, NodeInfoWire,
  PluginConfigItemWire, PluginWire, Qos, RouteWire, SessionWire, StatsWire, SubscriptionWire
} from '../api/types.js'
import { errors } from '../api/errors.js'

export interface NodeApi {
  readonly name: string
  brokerInfo (): Promise<BrokerInfoWire>
  nodeInfo (): Promise<NodeInfoWire>
  /** sorted by client id */
  connections (): Promise<ConnectionWire[]>
  connection (clientId: string): Promise<ConnectionWire[]>
  /** sorted by client id */
  sessions (): Promise<SessionWire[]>
  session (clientId: string): Promise<SessionWire[]>
  /** sorted by client id, then topic */
  subscriptions (): Promise<SubscriptionWire[]>
  subscriptionsOf (clientId: string): Promise<SubscriptionWire[]>
  /** sorted by topic */
  routes (): Promise<RouteWire[]>
  routesOf (topic: string): Promise<RouteWire[]>
  listeners (): Promise<ListenerWire[]>
  metrics (): Promise<MetricsWire>
  stats (): Promise<StatsWire>
  alarms (): Promise<AlarmWire[]>
  plugins (): Promise<PluginWire[]>
  loadPlugin (name: string): Promise<void>
  unloadPlugin (name: string): Promise<void>
  pluginConfigs (name: string): Promise<PluginConfigItemWire[]>
  setPluginConfigs (name: string, values: Record<string, string>): Promise<void>
  configs (): Promise<ConfigItemWire[]>
  setConfig (app: string, key: string, value: string): Promise<void>
  /** false when the client is not connected here */
  kickout (clientId: string): Promise<boolean>
  cleanAclCache (clientId: string, topic: string): Promise<boolean>
  subscribe (clientId: string, filters: string[], qos: Qos): Promise<boolean>
  unsubscribe (clientId: string, filters: string[]): Promise<boolean>
}

export interface Cluster {
  readonly self: string
  /** live nodes, sorted by name */
  nodes (): Promise<NodeApi[]>
  /** a live node by name; 404 when unknown */
  node (name: string): Promise<NodeApi>
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
}

/** Runs fn on every live node and concatenates, in node order (stable pages across the cluster). */
export async function acrossNodes<T> (cluster: Cluster, fn: (n: NodeApi) => Promise<T[]>): Promise<T[]> {
  const nodes = await cluster.nodes()
  return (await Promise.all(nodes.map(fn))).flat()
}

/** Runs fn on every live node; true when any node did it (kickout, subscribe on behalf, ...). */
export async function onAnyNode (cluster: Cluster, fn: (n: NodeApi) => Promise<boolean>): Promise<boolean> {
  const nodes = await cluster.nodes()
  return (await Promise.all(nodes.map(fn))).some(Boolean)
}
