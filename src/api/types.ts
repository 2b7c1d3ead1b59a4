/** The only file that knows the shape of generated/: wire types re-exported by name. */
import type { components } from '../../generated/v3.js'

type S = components['schemas']
export type BrokerWire = S['Broker']
export type BrokerInfoWire = S['BrokerInfo']
export type NodeInfoWire = S['NodeInfo']
export type NodeListItemWire = S['NodeListItem']
export type ConnectionWire = S['Connection']
export type SessionWire = S['Session']
export type SubscriptionWire = S['Subscription']
export type RouteWire = S['Route']
export type ListenerWire = S['Listener']
export type MetricsWire = S['Metrics']
export type StatsWire = S['Stats']
export type AlarmWire = S['Alarm']
export type PluginWire = S['Plugin']
export type PluginConfigItemWire = S['PluginConfigItem']
export type ConfigItemWire = S['ConfigItem']
export type BannedWire = S['Banned']
export type AppWire = S['App']
export type UserWire = S['User']
export type Qos = S['Qos']
export type { Handlers, Input, Reply } from '../../generated/handlers.js'
export type { OperationId, OperationEntry } from '../../generated/operations.js'
