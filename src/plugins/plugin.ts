/**
 * The common shape of a plugin: a name, whether it is loaded by default, the settings it declares
 * (its plugin configs) and what happens when it is loaded or unloaded, at runtime or at boot.
 */
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.js'
import type { Store } from '../store/store.js'
import type { Alarms } from '../services/alarms.js'
import type { SettingDef, Settings } from '../services/settings.js'

export interface Plugin {
  readonly name: string
  readonly description: string
  readonly defaultActive: boolean
  /** the API and its docs cannot be switched off from the API itself */
  readonly alwaysOn?: boolean
  readonly settings?: readonly SettingDef[]
  /** runs when the plugin is loaded, and at boot when its persisted state is loaded */
  start?: () => Promise<void> | void
  /** runs when the plugin is unloaded, and when the node closes */
  stop?: () => Promise<void> | void
}

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
