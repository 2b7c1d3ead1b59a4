/** NodeApi answered by a peer over POST /internal/rpc (src/cluster/rpc.ts), each call bounded in time. */
import type { NodeApi } from './cluster.js'
import { rpcCall, type RpcMethod } from './rpc.js'
import type { PromFamily } from '../services/prometheus.js'
import type { OnBehalf } from '../broker/types.js'
import type { ClientFilter, RouteFilter, SubscriptionFilter } from './list-filter.js'
import type {
  AlarmRecordWire, AlarmWire, BrokerInfoWire, ConfigItemWire, ConnectionWire, ListenerWire, MetricsWire, NodeInfoWire,
  PluginConfigItemWire, PluginWire, Qos, RetainedMessageWire, RouteWire, SessionMessageWire, SessionWire, StatsWire, SubscriptionWire
} from '../core/wire.js'

export class RemoteNode implements NodeApi {
  constructor (readonly name: string, readonly apiUrl: string, private readonly secret: string) {}

  private async call<T> (method: RpcMethod, ...args: unknown[]): Promise<T> {
    return await rpcCall<T>(this.apiUrl, this.secret, method, args)
  }

  brokerInfo (): Promise<BrokerInfoWire> { return this.call('brokerInfo') }
  nodeInfo (): Promise<NodeInfoWire> { return this.call('nodeInfo') }
  connections (filter?: ClientFilter): Promise<ConnectionWire[]> { return this.call('connections', filter ?? {}) }
  connection (clientId: string): Promise<ConnectionWire[]> { return this.call('connection', clientId) }
  sessions (filter?: ClientFilter): Promise<SessionWire[]> { return this.call('sessions', filter ?? {}) }
  session (clientId: string): Promise<SessionWire[]> { return this.call('session', clientId) }
  subscriptions (filter?: SubscriptionFilter): Promise<SubscriptionWire[]> { return this.call('subscriptions', filter ?? {}) }
  subscriptionsOf (clientId: string): Promise<SubscriptionWire[]> { return this.call('subscriptionsOf', clientId) }
  routes (filter?: RouteFilter): Promise<RouteWire[]> { return this.call('routes', filter ?? {}) }
  routesOf (topic: string): Promise<RouteWire[]> { return this.call('routesOf', topic) }
  listeners (): Promise<ListenerWire[]> { return this.call('listeners') }
  metrics (): Promise<MetricsWire> { return this.call('metrics') }
  stats (): Promise<StatsWire> { return this.call('stats') }
  alarms (): Promise<AlarmWire[]> { return this.call('alarms') }
  activatedAlarms (): Promise<AlarmRecordWire[]> { return this.call('activatedAlarms') }
  deactivateAlarm (name: string): Promise<boolean> { return this.call('deactivateAlarm', name) }
  prometheus (): Promise<PromFamily[]> { return this.call('prometheus') }
  prometheusText (): Promise<string> { return this.call('prometheusText') }
  plugins (): Promise<PluginWire[]> { return this.call('plugins') }
  loadPlugin (name: string): Promise<void> { return this.call('loadPlugin', name) }
  unloadPlugin (name: string): Promise<void> { return this.call('unloadPlugin', name) }
  pluginConfigs (name: string): Promise<PluginConfigItemWire[]> { return this.call('pluginConfigs', name) }
  setPluginConfigs (name: string, values: Record<string, string>): Promise<void> { return this.call('setPluginConfigs', name, values) }
  configs (): Promise<ConfigItemWire[]> { return this.call('configs') }
  setConfig (app: string, key: string, value: string, opts: { stored?: boolean } = {}): Promise<void> { return this.call('setConfig', app, key, value, opts) }
  kickout (clientId: string): Promise<boolean> { return this.call('kickout', clientId) }
  cleanAclCache (clientId: string, topic: string): Promise<boolean> { return this.call('cleanAclCache', clientId, topic) }
  discardSession (clientId: string): Promise<boolean> { return this.call('discardSession', clientId) }
  retainedMessages (filter: string, withPayload: boolean): Promise<RetainedMessageWire[]> { return this.call('retainedMessages', filter, withPayload) }
  removeRetained (filter: string): Promise<number> { return this.call('removeRetained', filter) }
  subscribe (clientId: string, filters: string[], qos: Qos, reach: OnBehalf = 'online'): Promise<boolean> { return this.call('subscribe', clientId, filters, qos, reach) }
  unsubscribe (clientId: string, filters: string[], offline = false): Promise<boolean> { return this.call('unsubscribe', clientId, filters, offline) }
  kickoutMany (clientIds: string[], dryRun: boolean): Promise<string[]> { return this.call('kickoutMany', clientIds, dryRun) }
  hasSubscriber (topics: string[]): Promise<boolean> { return this.call('hasSubscriber', topics) }
  sessionMessages (clientId: string, kind: 'mqueue' | 'inflight'): Promise<SessionMessageWire[] | null> { return this.call('sessionMessages', clientId, kind) }

  /** the peer re-reads the bans and disconnects its clients that a new ban matches */
  refreshBans (): Promise<void> { return this.call('refreshBans') }

  /** the peer re-reads the ACL rules and drops its clients' cached decisions */
  refreshAcl (): Promise<void> { return this.call('refreshAcl') }
}
