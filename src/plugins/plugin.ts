/**
 * What a plugin module may use of its node, and the two built-in plugins. The shape of a plugin
 * (Plugin) is declared by the service that manages them, so plugins import services, never back.
 */
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.js'
import type { Store } from '../store/store.js'
import type { Alarms } from '../services/alarms.js'
import type { Plugin } from '../services/plugins.js'
import type { Settings } from '../services/settings.js'

export type { Plugin } from '../services/plugins.js'

/** What a plugin may use of its node. */
export interface PluginContext {
  node: string
  store: Store
  settings: Settings
  alarms: Alarms
  log: Logger
  /** the running broker (plugins start after it) */
  broker: () => Broker
  /** whether a plugin is loaded: behaviour checks this live, so load/unload apply at once */
  isActive: (name: string) => boolean
}

/** The two plugins that are the management API and its docs themselves: always on. */
export const dashboard: Plugin = { name: 'emqx_dashboard', description: 'EMQ X Web Dashboard', defaultActive: true, alwaysOn: true }
export const management: Plugin = { name: 'emqx_management', description: 'EMQ X Management API and CLI', defaultActive: true, alwaysOn: true }
