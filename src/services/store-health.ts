/**
 * Watches the store: while it cannot be reached an alarm is raised and /status says so; when it
 * answers again the alarm clears, without a restart (issue: faults).
 */
import type { Store } from '../store/store.js'
import type { Alarms } from './alarms.js'

const ALARM_ID = 'store_unavailable'

export class StoreHealth {
  private timer: NodeJS.Timeout | null = null
  private healthy = true

  constructor (private readonly store: Store, private readonly alarms: Alarms, private readonly log: { warn (o: object, m?: string): void, info (o: object, m?: string): void }) {}

  get ok (): boolean { return this.healthy }

  private checking: Promise<boolean> | null = null

  /**
   * Whether the store answers now: at once while the last check passed, else a check of its own (one
   * at a time, shared by every caller; bounded by the store's timeout), so a store that came back is
   * seen by the first caller rather than at the next poll.
   */
  async current (): Promise<boolean> {
    if (this.healthy) return true
    this.checking ??= this.check().finally(() => { this.checking = null })
    return await this.checking
  }

  start (intervalMs = 2000): void {
    this.timer = setInterval(() => { this.check().catch(() => {}) }, intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer) clearInterval(this.timer)
  }

  async check (): Promise<boolean> {
    try {
      await this.store.ping()
      if (!this.healthy) this.log.info({ store: this.store.kind }, 'store reachable again')
      this.healthy = true
      this.alarms.clear(ALARM_ID)
    } catch (err) {
      if (this.healthy) this.log.warn({ store: this.store.kind, err: String(err) }, 'store unreachable')
      this.healthy = false
      this.alarms.raise(ALARM_ID, 'critical', 'Store unreachable', `The ${this.store.kind} store does not answer; store-backed API calls answer 503`)
    }
    return this.healthy
  }
}
