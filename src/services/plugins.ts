/**
 * Plugins of one node. Only plugins that exist and work are listed (DECISIONS.md). Their state is
 * switched at once and persisted, so it survives a restart.
 */
import type { Store } from '../store/store.js'
import type { PluginWire } from '../api/types.js'
import { errors, ReturnCode } from '../api/errors.js'

export interface PluginDef {
  name: string
  description: string
  /** the API and its docs cannot be switched off from the API itself */
  alwaysOn: boolean
  defaultActive: boolean
}

export const PLUGINS: PluginDef[] = [
  { name: 'emqx_dashboard', description: 'EMQ X Web Dashboard', alwaysOn: true, defaultActive: true },
  { name: 'emqx_management', description: 'EMQ X Management API and CLI', alwaysOn: true, defaultActive: true },
  { name: 'emqx_retainer', description: 'EMQ X Retainer', alwaysOn: false, defaultActive: true }
]

export class Plugins {
  private readonly active = new Map<string, boolean>()
  private readonly ns: string

  constructor (private readonly store: Store, node: string, private readonly version: string) {
    this.ns = `plugins@${node}`
  }

  async start (): Promise<void> {
    const saved = await this.store.kv.all(this.ns)
    for (const p of PLUGINS) {
      const s = saved[p.name]
      this.active.set(p.name, p.alwaysOn || (typeof s === 'boolean' ? s : p.defaultActive))
    }
  }

  has (name: string): boolean { return this.active.has(name) }

  isActive (name: string): boolean { return this.active.get(name) === true }

  list (): PluginWire[] {
    return PLUGINS.map(p => ({ name: p.name, version: this.version, description: p.description, active: this.isActive(p.name) }))
  }

  async load (name: string): Promise<void> {
    this.def(name)
    if (this.isActive(name)) throw errors.conflict('already_started', ReturnCode.PLUGIN_ALREADY_STARTED)
    await this.store.kv.set(this.ns, name, true)
    this.active.set(name, true)
  }

  async unload (name: string): Promise<void> {
    const def = this.def(name)
    if (!this.isActive(name)) throw errors.conflict('not_started', ReturnCode.PLUGIN_NOT_STARTED)
    if (def.alwaysOn) throw errors.conflict('cannot_unload_builtin', ReturnCode.UNKNOWN_ERROR)
    await this.store.kv.set(this.ns, name, false)
    this.active.set(name, false)
  }

  private def (name: string): PluginDef {
    const def = PLUGINS.find(p => p.name === name)
    if (!def) throw errors.notFound('plugin_not_found')
    return def
  }
}
