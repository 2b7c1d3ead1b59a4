/**
 * Bans by client id, username or IP address, enforced at MQTT CONNECT (DECISIONS.md: EMQ X's IP
 * bans were never enforced). Checks read an in-memory snapshot so CONNECT never waits on the store;
 * the snapshot is refreshed on every change made here and every few seconds from the store (other
 * nodes' changes). An expired ban stops applying at once and is swept from the store.
 */
import { isIP } from 'node:net'
import type { BannedKind, BannedRecord, Store } from '../store/store.js'

export interface ClientIdentity { clientId: string, username: string | null, ip: string | null }

const key = (as: BannedKind, who: string): string => `${as}\u0000${who}`

/** IPv4-mapped IPv6 matches its IPv4 form; IPv6 is compared in its compressed lower-case form. */
export function normalizeIp (ip: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) return mapped[1] as string
  const v = isIP(ip)
  if (v === 4) return ip.split('.').map(o => String(Number(o))).join('.')
  if (v === 6) {
    const host = new URL(`http://[${ip}]/`).hostname.slice(1, -1)
    const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host)
    if (m) {
      const hi = parseInt(m[1] as string, 16)
      const lo = parseInt(m[2] as string, 16)
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
    }
    return host
  }
  return null
}

export class BannedService {
  private snapshot = new Map<string, number | null>()
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly store: Store, private readonly kick: (c: (id: ClientIdentity) => boolean) => Promise<void>) {}

  async start (refreshMs = 3000): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => { this.sweep().catch(() => {}) }, refreshMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer) clearInterval(this.timer)
  }

  /** Active bans only, sorted by (as, who). */
  async list (nowSec = Math.floor(Date.now() / 1000)): Promise<BannedRecord[]> {
    return (await this.store.banned.list()).filter(b => b.until === null || b.until > nowSec)
  }

  private readonly watchers = new Set<(change: 'created' | 'deleted', entry: Pick<BannedRecord, 'as' | 'who'> & Partial<BannedRecord>) => void>()

  /** told of every ban made or lifted through this service (the event stream); returns the function that stops it */
  watch (fn: (change: 'created' | 'deleted', entry: Pick<BannedRecord, 'as' | 'who'> & Partial<BannedRecord>) => void): () => void {
    this.watchers.add(fn)
    return () => { this.watchers.delete(fn) }
  }

  async create (entry: BannedRecord): Promise<BannedRecord> {
    await this.store.banned.put(entry)
    this.snapshot.set(key(entry.as, entry.who), entry.until)
    for (const w of this.watchers) w('created', entry)
    await this.kick(c => this.isBanned(c))
    return entry
  }

  async delete (as: BannedKind, who: string): Promise<boolean> {
    const stored = as === 'ip_address' ? normalizeIp(who) ?? who : who
    const gone = await this.store.banned.delete(as, stored)
    this.snapshot.delete(key(as, stored))
    if (gone) for (const w of this.watchers) w('deleted', { as, who: stored })
    return gone
  }

  isBanned (c: ClientIdentity, nowSec = Math.floor(Date.now() / 1000)): boolean {
    // asked at every CONNECT: nothing to normalise or look up while nobody is banned
    if (this.snapshot.size === 0) return false
    const ip = c.ip !== null ? normalizeIp(c.ip) : null
    const hits = [key('client_id', c.clientId)]
    if (c.username !== null) hits.push(key('username', c.username))
    if (ip !== null) hits.push(key('ip_address', ip))
    return hits.some(k => {
      if (!this.snapshot.has(k)) return false
      const until = this.snapshot.get(k)
      return until === null || (until as number) > nowSec
    })
  }

  private async refresh (): Promise<void> {
    const rows = await this.store.banned.list()
    this.snapshot = new Map(rows.map(r => [key(r.as, r.who), r.until]))
  }

  private async sweep (): Promise<void> {
    await this.store.banned.deleteExpired(Math.floor(Date.now() / 1000))
    await this.refresh()
  }
}
