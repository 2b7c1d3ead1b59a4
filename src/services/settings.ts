/**
 * Changeable settings of one node: the hot configs (GET/PUT /configs) and plugin configs
 * (GET/PUT /plugin_configs) are two views of this one registry. Values are validated against
 * their type, take effect at once (behaviour reads `get()` live) and persist in the store.
 */
import type { Store } from '../store/store.js'
import { errors } from '../api/errors.js'

export type Datatype = 'integer' | 'bytesize' | 'duration' | 'boolean'

export interface SettingDef {
  key: string
  app: string
  datatype: Datatype
  /** as EMQ X's cuttlefish datatype list, e.g. "integer, duration" */
  datatpye: string
  desc: string
  default: string
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const DURATIONS: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }

/** Parses a value to a number (integers, bytes, seconds) or a boolean; null when invalid. */
export function parseValue (type: Datatype, raw: string): number | boolean | null {
  const v = raw.trim().toLowerCase()
  switch (type) {
    case 'boolean': return v === 'true' ? true : v === 'false' ? false : null
    case 'integer': return /^\d{1,15}$/.test(v) ? Number(v) : null
    case 'bytesize': {
      const m = /^(\d{1,15})(b|kb|mb|gb)?$/.exec(v)
      return m ? Number(m[1]) * (UNITS[m[2] ?? ''] as number) : null
    }
    case 'duration': {
      const m = /^(\d{1,15})(ms|s|m|h|d)?$/.exec(v)
      return m ? Math.floor(Number(m[1]) * (DURATIONS[m[2] ?? ''] as number)) : null
    }
  }
}

export const SETTINGS: SettingDef[] = [
  { key: 'mqtt.allow_anonymous', app: 'emqx', datatype: 'boolean', datatpye: 'enum', desc: 'Allow clients that no auth plugin authenticated', default: 'true' },
  { key: 'mqtt.max_clientid_len', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Longest client id accepted at CONNECT', default: '65535' },
  { key: 'mqtt.max_topic_levels', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Most topic levels in a PUBLISH or SUBSCRIBE (0 = no limit)', default: '0' },
  { key: 'retainer.expiry_interval', app: 'emqx_retainer', datatype: 'duration', datatpye: 'integer, duration', desc: 'Retained messages expire after this long (0 = never)', default: '0' },
  { key: 'retainer.max_payload_size', app: 'emqx_retainer', datatype: 'bytesize', datatpye: 'bytesize', desc: 'Largest payload kept as a retained message', default: '1048576' },
  { key: 'retainer.max_retained_messages', app: 'emqx_retainer', datatype: 'integer', datatpye: 'integer', desc: 'Most retained messages kept (0 = no limit)', default: '0' }
]

export class Settings {
  private readonly defs = new Map(SETTINGS.map(d => [d.key, d]))
  private values = new Map<string, string>()
  private readonly ns: string

  /** onChange runs after a value is written, e.g. to drop decisions cached under the old value */
  constructor (private readonly store: Store, node: string, private readonly onChange: (key: string) => void = () => {}) {
    this.ns = `settings@${node}`
  }

  async start (): Promise<void> {
    const saved = await this.store.kv.all(this.ns)
    for (const [k, v] of Object.entries(saved)) {
      if (this.defs.has(k) && typeof v === 'string') this.values.set(k, v)
    }
  }

  list (app?: string): Array<SettingDef & { value: string }> {
    return [...this.defs.values()]
      .filter(d => app === undefined || d.app === app)
      .sort((a, b) => a.key < b.key ? -1 : 1)
      .map(d => ({ ...d, value: this.values.get(d.key) ?? d.default }))
  }

  hasApp (app: string): boolean {
    return [...this.defs.values()].some(d => d.app === app)
  }

  /** Validates every pair first, then writes them: all or nothing. Unknown app or key is 404. */
  async set (app: string, pairs: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(pairs)) {
      const def = this.defs.get(key)
      if (!def || def.app !== app) throw errors.notFound(`unknown config key ${key} for ${app}`)
      if (parseValue(def.datatype, value) === null) throw errors.badParam(`${key}: ${JSON.stringify(value)} is not a valid ${def.datatype}`)
    }
    for (const [key, value] of Object.entries(pairs)) {
      await this.store.kv.set(this.ns, key, value.trim())
      this.values.set(key, value.trim())
      this.onChange(key)
    }
  }

  number (key: string): number {
    const def = this.defs.get(key) as SettingDef
    return parseValue(def.datatype, this.values.get(key) ?? def.default) as number
  }

  bool (key: string): boolean {
    const def = this.defs.get(key) as SettingDef
    return parseValue(def.datatype, this.values.get(key) ?? def.default) as boolean
  }
}
