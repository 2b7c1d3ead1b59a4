/**
 * Changeable settings of one node: the hot configs (GET/PUT /configs) and plugin configs
 * (GET/PUT /plugin_configs) are two views of this one registry. Values are validated against
 * their type, take effect at once (behaviour reads the values live) and persist in the store.
 * Plugins declare their own settings next to them (src/plugins/) and hand them in here.
 */
import type { Store } from '../store/store.js'
import { errors } from '../core/errors.js'
import { hashSecret } from './secrets.js'

export type Datatype = 'integer' | 'bytesize' | 'duration' | 'boolean' | 'percent' | 'string' | 'url' | 'enum' | 'secret'

export interface SettingDef {
  key: string
  app: string
  datatype: Datatype
  /** as EMQ X's cuttlefish datatype list, e.g. "integer, duration" */
  datatpye: string
  desc: string
  default: string
  /**
   * A family of keys (auth.user.1.username, auth.user.2.username, …) matched by this pattern: an
   * entry exists only once it is set, and setting it to "" removes it.
   */
  pattern?: RegExp
  /** the allowed values of an 'enum' */
  values?: readonly string[]
  /** smallest accepted number for integer-like types */
  min?: number
  /** largest accepted number for integer-like types */
  max?: number
}

export type Value = number | boolean | string

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const DURATIONS: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }
const MAX_STRING = 65535

/** Parses a value to a number (integers, bytes, seconds, fractions), a boolean or a string; null when invalid. */
export function parseValue (def: Pick<SettingDef, 'datatype' | 'values' | 'min' | 'max'>, raw: string): Value | null {
  const v = raw.trim().toLowerCase()
  const atLeast = (n: number | null): number | null => n !== null && n >= (def.min ?? 0) && n <= (def.max ?? Infinity) ? n : null
  switch (def.datatype) {
    case 'boolean': return v === 'true' ? true : v === 'false' ? false : null
    case 'integer': return atLeast(/^\d{1,15}$/.test(v) ? Number(v) : null)
    case 'bytesize': {
      const m = /^(\d{1,15})(b|kb|mb|gb)?$/.exec(v)
      return atLeast(m ? Number(m[1]) * (UNITS[m[2] ?? ''] as number) : null)
    }
    case 'duration': {
      const m = /^(\d{1,15})(ms|s|m|h|d)?$/.exec(v)
      return atLeast(m ? Math.floor(Number(m[1]) * (DURATIONS[m[2] ?? ''] as number)) : null)
    }
    case 'percent': {
      // "80%" or a fraction "0.8"; above 0, at most 1
      const m = /^(\d{1,3}(?:\.\d{1,6})?)(%?)$/.exec(v)
      const f = m ? Number(m[1]) / (m[2] === '%' ? 100 : 1) : NaN
      return f > 0 && f <= 1 ? f : null
    }
    case 'string': return raw.length > 0 && raw.length <= MAX_STRING && !raw.includes('\u0000') ? raw : null
    case 'secret': return raw.length > 0 && raw.length <= 1024 ? raw : null
    case 'enum': return def.values?.includes(v) === true ? v : null
    case 'url': {
      if (v === '') return '' // not configured
      try {
        const u = new URL(raw.trim())
        return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
      } catch { return null }
    }
  }
}

/** The broker's own settings (app emqx); `maxConns` is the listener default from the environment. */
export function coreSettings (maxConns: number): SettingDef[] {
  return [
    { key: 'listener.tcp.external.max_connections', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Most concurrent connections of the MQTT/TCP listener (new ones above it are refused)', default: String(maxConns), min: 1 },
    ...(['tcp', 'ssl', 'ws'] as const).map(l => ({ key: `listener.${l}.external.nodelay`, app: 'emqx', datatype: 'boolean', datatpye: 'enum', desc: `TCP_NODELAY on new MQTT/${l.toUpperCase()} connections: small packets are sent at once, not held back by Nagle's algorithm`, default: 'true' } satisfies SettingDef)),
    { key: 'broker.shared_subscription_strategy', app: 'emqx', datatype: 'enum', datatpye: 'enum', desc: 'How a shared subscription ($share/<group>/<topic>, $queue/<topic>) picks the one member of a group that gets a message: random, round_robin, sticky (the same member while it stays), hash (of the publisher\'s client id)', default: 'random', values: ['random', 'round_robin', 'sticky', 'hash'] },
    { key: 'mqtt.acl_deny_action', app: 'emqx', datatype: 'enum', datatpye: 'enum', desc: 'What a PUBLISH or SUBSCRIBE the ACL denies costs the client: ignore (the message is not routed, the subscription fails with 0x80) or disconnect', default: 'ignore', values: ['ignore', 'disconnect'] },
    { key: 'mqtt.acl_nomatch', app: 'emqx', datatype: 'enum', datatpye: 'enum', desc: 'Whether a PUBLISH or SUBSCRIBE that no ACL rule covers is allowed or denied', default: 'allow', values: ['allow', 'deny'] },
    { key: 'mqtt.allow_anonymous', app: 'emqx', datatype: 'boolean', datatpye: 'enum', desc: 'Allow clients that no auth plugin authenticated', default: 'true' },
    { key: 'mqtt.max_clientid_len', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Longest client id accepted at CONNECT', default: '65535' },
    { key: 'mqtt.max_packet_size', app: 'emqx', datatype: 'bytesize', datatpye: 'bytesize', desc: 'Largest MQTT packet (remaining length) a client may send; a larger one closes its connection', default: '1MB', min: 1 },
    { key: 'mqtt.server_keepalive', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'MQTT 5 Server Keep Alive, seconds: a v5 client asking for a longer keep alive (or none) is told this one in CONNACK and held to it; MQTT 3.1/3.1.1 clients keep theirs; applies to new connections (0 = off)', default: '0', max: 65535 },
    { key: 'mqtt.max_topic_levels', app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Most topic levels in a PUBLISH or SUBSCRIBE (0 = no limit)', default: '0' },
    { key: 'sysmon.memory_high_watermark', app: 'emqx', datatype: 'percent', datatpye: 'percent', desc: 'Raise high_memory when the process uses more than this share of system memory ("80%" or 0.8)', default: '80%' }
  ]
}

type Listener = (key: string) => void

export class Settings {
  private readonly defs: Map<string, SettingDef>
  private readonly families: SettingDef[]
  private readonly values = new Map<string, string>()
  /** parsed values: read on hot paths (every packet header, every PUBLISH), parsed once per change */
  private readonly parsed = new Map<string, Value>()
  private readonly listeners: Listener[] = []
  private readonly ns: string

  constructor (private readonly store: Store, node: string, defs: readonly SettingDef[] = []) {
    this.ns = `settings@${node}`
    this.defs = new Map()
    this.families = []
    this.declare(defs)
  }

  /** Adds settings (a plugin's, declared next to it); before start(), so saved values are read. */
  declare (defs: readonly SettingDef[]): void {
    for (const d of defs) {
      if (d.pattern === undefined) this.defs.set(d.key, d)
      else this.families.push(d)
    }
  }

  async start (): Promise<void> {
    const saved = await this.store.kv.all(this.ns)
    for (const [k, v] of Object.entries(saved)) {
      if (this.defOf(k) !== undefined && typeof v === 'string') this.values.set(k, v)
    }
    this.parsed.clear()
  }

  /** fn runs after a value is written or removed, e.g. to drop decisions cached under the old value */
  onChange (fn: Listener): void { this.listeners.push(fn) }

  list (app?: string): Array<SettingDef & { value: string }> {
    const fixed = [...this.defs.values()].map(d => ({ ...d, value: this.values.get(d.key) ?? d.default }))
    const entries = [...this.values.entries()].flatMap(([key, value]) => {
      const d = this.families.find(f => f.pattern?.test(key) === true)
      return d ? [{ ...d, key, value }] : []
    })
    return [...fixed, ...entries]
      .filter(d => app === undefined || d.app === app)
      .sort((a, b) => a.key < b.key ? -1 : 1)
  }

  hasApp (app: string): boolean {
    return [...this.defs.values(), ...this.families].some(d => d.app === app)
  }

  /**
   * Validates every pair first, then writes them: all or nothing. Unknown app or key is 404, a bad
   * value 400. A secret is stored only as a salted hash; sending back the stored hash keeps it.
   * `stored`: the values are as another node stored them (an import): a secret is already its hash.
   */
  async set (app: string, pairs: Record<string, string>, opts: { stored?: boolean } = {}): Promise<void> {
    const writes = this.check(app, pairs)
    for (const w of writes) if (w[1] !== null && opts.stored !== true && this.defOf(w[0])?.datatype === 'secret') w[1] = await hashSecret(w[1])
    for (const [key, value] of writes) {
      if (value === null) {
        await this.store.kv.delete(this.ns, key)
        this.values.delete(key)
      } else {
        await this.store.kv.set(this.ns, key, value)
        this.values.set(key, value)
      }
      this.parsed.delete(key)
      for (const fn of this.listeners) fn(key)
    }
  }

  /** What set() would write (key, value or null to remove); throws as set() does, writes nothing. */
  check (app: string, pairs: Record<string, string>): Array<[string, string | null]> {
    const writes: Array<[string, string | null]> = []
    for (const [key, raw] of Object.entries(pairs)) {
      const def = this.defOf(key)
      if (!def || def.app !== app) throw errors.notFound(`unknown config key ${key} for ${app}`)
      if (def.pattern !== undefined && raw.trim() === '') { writes.push([key, null]); continue }
      if (def.datatype === 'secret' && raw === this.values.get(key)) continue
      const v = parseValue(def, raw)
      if (v === null) throw errors.badParam(`${key}: ${def.datatype === 'secret' ? 'the value' : JSON.stringify(raw)} is not a valid ${def.datatype}`)
      writes.push([key, def.datatype === 'secret' ? raw : typeof v === 'string' ? v : raw.trim()])
    }
    return writes
  }

  number (key: string): number { return this.get(key) as number }

  bool (key: string): boolean { return this.get(key) as boolean }

  string (key: string): string { return String(this.get(key)) }

  /** The stored entries of a key family (or any app's keys) as key → raw value. */
  entries (app: string): Map<string, string> {
    return new Map(this.list(app).map(s => [s.key, s.value]))
  }

  private get (key: string): Value {
    const hit = this.parsed.get(key)
    if (hit !== undefined) return hit
    const def = this.defs.get(key)
    if (def === undefined) throw new Error(`setting ${key} is not declared`)
    const v = parseValue(def, this.values.get(key) ?? def.default) ?? (parseValue(def, def.default) as Value)
    this.parsed.set(key, v)
    return v
  }

  private defOf (key: string): SettingDef | undefined {
    return this.defs.get(key) ?? this.families.find(f => f.pattern?.test(key) === true)
  }
}
