/**
 * Who is in the cluster: each node keeps a record in the shared store (store.members) and renews
 * its heartbeat every second; a record whose heartbeat is older than STALE_MS (or that stopped
 * cleanly) is a stopped node. Nodes compare heartbeats with their own clocks, so their clocks must
 * agree to well within STALE_MS (NTP).
 */
import { randomBytes } from 'node:crypto'
import type { MemberRecord, Store } from '../store/store.js'

export const HEARTBEAT_MS = 1000
export const STALE_MS = 5000

export interface MembershipLog {
  info (o: object, msg?: string): void
  warn (o: object, msg?: string): void
  error (o: object, msg?: string): void
}

export interface Self {
  name: string
  apiUrl: string
  version: string
  startedAt: number
}

export class Membership {
  readonly instance = randomBytes(8).toString('hex')
  private known: MemberRecord[] = []
  /** names live at the previous heartbeat, to tell who stopped since */
  private wasLive = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private ticking: Promise<void> | null = null
  private readonly changed: Array<(live: MemberRecord[], gone: MemberRecord[]) => void> = []

  constructor (private readonly store: Store, private self: Self, private readonly log: MembershipLog, private readonly staleMs = STALE_MS) {}

  private record (now: number): MemberRecord {
    return { ...this.self, instance: this.instance, otpRelease: `Node.js/${process.versions.node}`, heartbeatAt: now, running: true }
  }

  /**
   * Takes the name. While a live node holds it, waits one staleness window (a node restarted at
   * once must outwait the heartbeat of its previous run), then refuses.
   */
  async join (waitMs = this.staleMs + HEARTBEAT_MS): Promise<void> {
    const deadline = Date.now() + waitMs
    for (;;) {
      const now = Date.now()
      if (await this.store.members.claim(this.record(now), now - this.staleMs)) break
      if (now >= deadline) {
        const holder = await this.store.members.get(this.self.name)
        throw new Error(`NODE_NAME=${this.self.name} is already used by a live node of this cluster` +
          (holder ? ` (API ${holder.apiUrl}, last heartbeat ${new Date(holder.heartbeatAt).toISOString()})` : '') +
          '; every node needs its own name')
      }
      await new Promise(resolve => setTimeout(resolve, HEARTBEAT_MS))
    }
    this.known = await this.store.members.list()
    this.wasLive = new Set(this.live().map(m => m.name))
  }

  /** Re-registers with a new API URL (known only once the API listens). */
  async advertise (apiUrl: string): Promise<void> {
    this.self = { ...this.self, apiUrl }
    const now = Date.now()
    if (!await this.store.members.claim(this.record(now), now - this.staleMs)) throw new Error(`NODE_NAME=${this.self.name} was taken by another node`)
    this.known = await this.store.members.list()
  }

  start (): void {
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().catch((err: unknown) => {
        this.log.warn({ err: String(err) }, 'cluster heartbeat failed')
      }).finally(() => { this.ticking = null })
    }, HEARTBEAT_MS)
    this.timer.unref()
  }

  /** Stops heartbeating and marks the record stopped, so peers drop this node at once. */
  async leave (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.ticking
    await this.store.members.heartbeat(this.self.name, this.instance, Date.now(), false).catch(() => {})
  }

  /** Told of the live members after every heartbeat, and of members that stopped since the last one. */
  onChange (fn: (live: MemberRecord[], gone: MemberRecord[]) => void): void {
    this.changed.push(fn)
  }

  isLive (m: MemberRecord, now = Date.now()): boolean {
    if (m.name === this.self.name) return true
    return m.running && m.heartbeatAt >= now - this.staleMs
  }

  /** Every known member, sorted by name, as of the last heartbeat. */
  all (): MemberRecord[] { return this.known }

  /** The live members (always including this node), sorted by name. */
  live (now = Date.now()): MemberRecord[] {
    return this.known.filter(m => this.isLive(m, now))
  }

  private async tick (): Promise<void> {
    const now = Date.now()
    if (!await this.store.members.heartbeat(this.self.name, this.instance, now, true)) {
      // our record was replaced (e.g. this process stalled past STALE_MS): take the name back if free
      const ok = await this.store.members.claim(this.record(now), now - this.staleMs)
      this.log.error({ node: this.self.name, reclaimed: ok }, 'cluster membership record lost')
    }
    const before = this.wasLive
    this.known = await this.store.members.list()
    const live = this.live(now)
    const liveNames = new Set(live.map(m => m.name))
    this.wasLive = liveNames
    const gone = this.known.filter(m => before.has(m.name) && !liveNames.has(m.name))
    for (const m of gone) this.log.warn({ node: m.name }, 'cluster node stopped')
    for (const m of live) if (!before.has(m.name)) this.log.info({ node: m.name, api: m.apiUrl }, 'cluster node joined')
    for (const fn of this.changed) fn(live, gone)
  }
}
