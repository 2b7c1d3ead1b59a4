/**
 * emqx_auth_username and emqx_auth_clientid: CONNECT authentication against the credentials in the
 * plugin's configs (`auth.user.N.username` + `auth.user.N.password`, `auth.client.N.clientid` +
 * `auth.client.N.password`). A listed client must present its password; an unlisted one falls
 * through to the next check. Passwords are stored only as salted scrypt hashes (settings.ts).
 */
import type { Plugin, PluginContext } from './plugin.js'
import type { SettingDef } from '../services/settings.js'
import { verifySecret } from '../services/secrets.js'

export type AuthResult = 'ok' | 'bad' | 'next'

interface Kind { name: string, description: string, prefix: string, field: string }

const KINDS = {
  username: { name: 'emqx_auth_username', description: 'EMQ X Authentication with Username/Password', prefix: 'auth.user', field: 'username' },
  clientid: { name: 'emqx_auth_clientid', description: 'EMQ X Authentication with ClientId/Password', prefix: 'auth.client', field: 'clientid' }
} satisfies Record<string, Kind>

function settingsOf (k: Kind): SettingDef[] {
  const p = k.prefix.replace('.', '\\.')
  return [
    // EMQ X's plain/md5/sha* would store passwords unsalted or in clear: only scrypt is accepted
    { key: `${k.prefix}.password_hash`, app: k.name, datatype: 'enum', datatpye: 'enum', values: ['scrypt'], desc: 'How passwords are stored: salted scrypt (the only choice)', default: 'scrypt' },
    { key: `${k.prefix}.$N.${k.field}`, app: k.name, datatype: 'string', datatpye: 'string', pattern: new RegExp(`^${p}\\.\\d{1,9}\\.${k.field}$`), desc: `The ${k.field} of entry N ("" removes it)`, default: '' },
    { key: `${k.prefix}.$N.password`, app: k.name, datatype: 'secret', datatpye: 'string', pattern: new RegExp(`^${p}\\.\\d{1,9}\\.password$`), desc: 'The password of entry N, shown only as its salted hash ("" removes it)', default: '' }
  ]
}

export class AuthPlugin implements Plugin {
  readonly name: string
  readonly description: string
  readonly defaultActive = false
  readonly settings: SettingDef[]
  private readonly kind: Kind
  /** username or client id → password hash, rebuilt after a change to the plugin's configs */
  private creds: Map<string, string> | null = null

  constructor (private readonly ctx: PluginContext, kind: keyof typeof KINDS) {
    this.kind = KINDS[kind]
    this.name = this.kind.name
    this.description = this.kind.description
    this.settings = settingsOf(this.kind)
    ctx.settings.onChange((key) => { if (key.startsWith(this.kind.prefix + '.')) this.creds = null })
  }

  /** Checks a CONNECT's identity (username or client id) while loaded. */
  async check (id: string | undefined, password: Buffer | undefined): Promise<AuthResult> {
    if (id === undefined || !this.ctx.isActive(this.name)) return 'next'
    const hash = this.credentials().get(id)
    if (hash === undefined) return 'next'
    const ok = password !== undefined && await verifySecret(hash, password.toString('utf8'))
    return ok ? 'ok' : 'bad'
  }

  private credentials (): Map<string, string> {
    if (this.creds !== null) return this.creds
    const values = this.ctx.settings.entries(this.name)
    const creds = new Map<string, string>()
    for (const [key, id] of values) {
      const m = new RegExp(`^(.*)\\.${this.kind.field}$`).exec(key)
      const hash = m ? values.get(`${m[1] as string}.password`) : undefined
      // an entry counts once both its identity and its password are set; the first one wins
      if (hash !== undefined && !creds.has(id)) creds.set(id, hash)
    }
    this.creds = creds
    return creds
  }
}
