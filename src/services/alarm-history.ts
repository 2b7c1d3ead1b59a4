/**
 * The history of deactivated alarms (GET /alarms/deactivated): every clear of this node's alarms is
 * written to the store the cluster's nodes share, which keeps the newest ALARM_HISTORY_LIMIT. A
 * clear seen while the store is away (store_unavailable itself is one) waits in a bounded queue,
 * in order, and is written once the store answers: a retried write is kept once (store contract).
 */
import type { AlarmHistoryRecord, Store } from '../store/store.js'
import { StoreUnavailableError } from '../store/store.js'
import type { ActiveAlarm, Alarms } from './alarms.js'
import type { AlarmRecordWire, NodeAlarmRecordsWire } from '../core/wire.js'
import { datetime } from '../core/format.js'

/** EMQX v4's alarm.size_limit */
export const ALARM_HISTORY_LIMIT = 1000
const RETRY_MS = 1000

export class AlarmHistory {
  private readonly pending: AlarmHistoryRecord[] = []
  private flushing: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private unwatch: (() => void) | null = null

  constructor (private readonly store: Store, private readonly node: string, private readonly log: { warn (o: object, m?: string): void }) {}

  start (alarms: Alarms): void {
    this.unwatch = alarms.watch((a, raised, at) => {
      if (raised) return
      this.record({ node: this.node, name: a.id, severity: a.severity, title: a.title, message: a.summary, activatedAt: a.since, deactivatedAt: at })
    })
  }

  /** writes what is still queued (a clean stop); gives up quietly if the store is away */
  async stop (): Promise<void> {
    this.unwatch?.()
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.flush()
  }

  private record (e: AlarmHistoryRecord): void {
    this.pending.push(e)
    // the queue is bounded like the history: the oldest would be dropped from it anyway
    if (this.pending.length > ALARM_HISTORY_LIMIT) this.pending.shift()
    this.flush().catch(() => {})
  }

  /** one writer at a time, in order; waits for the writes queued so far */
  async flush (): Promise<void> {
    this.flushing ??= this.drain().finally(() => { this.flushing = null })
    await this.flushing
  }

  private async drain (): Promise<void> {
    while (this.pending.length > 0) {
      const e = this.pending[0] as AlarmHistoryRecord
      try {
        await this.store.alarmHistory.add(e, ALARM_HISTORY_LIMIT)
        this.pending.shift()
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) {
          this.log.warn({ alarm: e.name, err: String(err) }, 'alarm history entry not written')
          this.pending.shift()
          continue
        }
        this.timer ??= setTimeout(() => { this.timer = null; this.flush().catch(() => {}) }, RETRY_MS)
        this.timer.unref()
        return
      }
    }
  }

  async list (): Promise<AlarmHistoryRecord[]> {
    await this.flush()
    return await this.store.alarmHistory.list()
  }

  async clear (): Promise<number> {
    await this.flush()
    return await this.store.alarmHistory.clear()
  }
}

/** An active alarm as GET /alarms/activated shows it. */
export function activatedWire (a: ActiveAlarm, now = Date.now()): AlarmRecordWire {
  return { name: a.id, severity: a.severity, message: a.summary, details: { title: a.title }, activate_at: datetime(a.since), duration: Math.max(0, now - a.since) }
}

/** The history grouped by node (in the order nodes first appear: the newest deactivation first). */
export function historyWire (records: readonly AlarmHistoryRecord[]): NodeAlarmRecordsWire[] {
  const byNode = new Map<string, AlarmRecordWire[]>()
  for (const r of records) {
    let list = byNode.get(r.node)
    if (list === undefined) byNode.set(r.node, list = [])
    list.push({
      name: r.name,
      severity: r.severity as AlarmRecordWire['severity'],
      message: r.message,
      details: { title: r.title },
      activate_at: datetime(r.activatedAt),
      deactivate_at: datetime(r.deactivatedAt),
      duration: Math.max(0, r.deactivatedAt - r.activatedAt)
    })
  }
  return [...byNode].map(([node, alarms]) => ({ node, alarms }))
}
