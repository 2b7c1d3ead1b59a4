/**
 * Plugins of one node. Only plugins that exist and work are listed (DECISIONS.md). Their state is
 * switched at once and persisted, so it survives a restart; each plugin module (src/plugins/)
 * starts and stops its behaviour when loaded and unloaded.
 */
import type { Store } from '../store/store.js'
import type { PluginWire } from '../core/wire.js'
import type { SettingDef } from './settings.js'
import { errors, ReturnCode } from '../core/errors.js'

/**
 * The common shape of a plugin: a name, whether it is loaded by default, the settings it declares
 * (its plugin configs) and what happens when it is loaded or unloaded, at runtime or at boot.
 * Declared here, beside what manages plugins, so that src/plugins/ depends on services and not back.
 */
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

export class Plugins {
  private readonly active = new Map<string, boolean>()
  private readonly ns: string
  private readonly defs: Plugin[]

  constructor (private readonly store: Store, node: string, private readonly version: string, plugins: readonly Plugin[]) {
    this.ns = `plugins@${node}`
    this.defs = [...plugins].sort((a, b) => a.name < b.name ? -1 : 1)
  }

  /** Reads the persisted states (hooks consult isActive from the first CONNECT on). */
  async restore (): Promise<void> {
    const saved = await this.store.kv.all(this.ns)
    for (const p of this.defs) {
      const s = saved[p.name]
      this.active.set(p.name, p.alwaysOn === true || (typeof s === 'boolean' ? s : p.defaultActive))
    }
  }

  /** Starts the behaviour of every loaded plugin, once the broker runs. */
  async startActive (): Promise<void> {
    for (const p of this.defs) if (this.isActive(p.name)) await p.start?.()
  }

  /** Stops every loaded plugin's behaviour (node shutdown); their state stays as persisted. */
  async stopAll (): Promise<void> {
    for (const p of this.defs) if (this.isActive(p.name)) await p.stop?.()
  }

  has (name: string): boolean { return this.active.has(name) }

  isActive (name: string): boolean { return this.active.get(name) === true }

  list (): PluginWire[] {
    return this.defs.map(p => ({ name: p.name, version: this.version, description: p.description, active: this.isActive(p.name) }))
  }

  async load (name: string): Promise<void> {
    const def = this.def(name)
    if (this.isActive(name)) throw errors.conflict('already_started', ReturnCode.PLUGIN_ALREADY_STARTED)
    await this.store.kv.set(this.ns, name, true)
    this.active.set(name, true)
    await def.start?.()
  }

  async unload (name: string): Promise<void> {
    const def = this.def(name)
    if (!this.isActive(name)) throw errors.conflict('not_started', ReturnCode.PLUGIN_NOT_STARTED)
    if (def.alwaysOn === true) throw errors.conflict('cannot_unload_builtin', ReturnCode.UNKNOWN_ERROR)
    await this.store.kv.set(this.ns, name, false)
    this.active.set(name, false)
    await def.stop?.()
  }

  private def (name: string): Plugin {
    const def = this.defs.find(p => p.name === name)
    if (!def) throw errors.notFound('plugin_not_found')
    return def
  }
}
