/** Active alarms of this node (EMQ X's emqx_alarm_mgr): raised and cleared by the server itself. */
import type { AlarmWire } from '../core/wire.js'
import { datetime } from '../core/format.js'

export type Severity = AlarmWire['severity']

export interface ActiveAlarm { id: string, severity: Severity, title: string, summary: string, since: number }

/** told of every raise and clear, with the alarm and when (epoch ms) it changed */
export type AlarmWatcher = (alarm: ActiveAlarm, raised: boolean, at: number) => void

export class Alarms {
  private readonly active = new Map<string, ActiveAlarm>()
  private readonly watchers = new Set<AlarmWatcher>()

  constructor (private readonly onChange: (id: string, raised: boolean) => void = () => {}) {}

  /** Raising an alarm that is already active keeps its original since-time. */
  raise (id: string, severity: Severity, title: string, summary: string): void {
    if (this.active.has(id)) return
    const a = { id, severity, title, summary, since: Date.now() }
    this.active.set(id, a)
    this.onChange(id, true)
    for (const w of this.watchers) w(a, true, a.since)
  }

  /** false when it was not active */
  clear (id: string): boolean {
    const a = this.active.get(id)
    if (a === undefined) return false
    this.active.delete(id)
    this.onChange(id, false)
    const at = Date.now()
    for (const w of this.watchers) w(a, false, at)
    return true
  }

  /** Watches raises and clears (the alarm history, the event stream); returns the function that stops it. */
  watch (fn: AlarmWatcher): () => void {
    this.watchers.add(fn)
    return () => { this.watchers.delete(fn) }
  }

  /** the active alarms with their raw times, oldest first */
  entries (): ActiveAlarm[] {
    return [...this.active.values()].sort((a, b) => a.since - b.since || (a.id < b.id ? -1 : 1))
  }

  isActive (id: string): boolean {
    return this.active.has(id)
  }

  list (): AlarmWire[] {
    return this.entries()
      .map(a => ({ id: a.id, severity: a.severity, title: a.title, summary: a.summary, timestamp: datetime(a.since) }))
  }
}

export const HIGH_MEMORY = 'high_memory'
export const LISTENER_NEAR_MAX_CONNS = 'listener_near_max_conns'
/** share of a listener's max_conns above which listener_near_max_conns is raised */
const NEAR_MAX_CONNS = 0.9

export interface MonitorSources {
  /** the memory watermark, a fraction of total system memory */
  watermark: () => number
  rss: () => number
  totalMemory: () => number
  listeners: () => ReadonlyArray<{ protocol: string, listenOn: string, currentConns: number, maxConns: number }>
}

/**
 * Periodic checks that raise and clear resource alarms (EMQ X's os_mon/sysmon): high_memory and
 * listener_near_max_conns. `check()` may also be called after a change, e.g. of a setting.
 */
export class AlarmMonitor {
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly alarms: Alarms, private readonly src: MonitorSources, private readonly intervalMs = 5000) {}

  start (): void {
    this.check()
    this.timer = setInterval(() => this.check(), this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  check (): void {
    const rss = this.src.rss()
    const total = this.src.totalMemory()
    const mark = this.src.watermark()
    if (total > 0 && rss > mark * total) {
      this.alarms.raise(HIGH_MEMORY, 'warning', 'High memory usage', `process uses ${pct(rss / total)} of system memory, above the watermark ${pct(mark)}`)
    } else this.alarms.clear(HIGH_MEMORY)

    const near = this.src.listeners().filter(l => l.maxConns > 0 && l.currentConns > NEAR_MAX_CONNS * l.maxConns)
    if (near.length > 0) {
      const which = near.map(l => `${l.protocol} ${l.listenOn}: ${l.currentConns}/${l.maxConns}`).join(', ')
      this.alarms.raise(LISTENER_NEAR_MAX_CONNS, 'warning', 'Listener near its connection limit', `above ${pct(NEAR_MAX_CONNS)} of max_conns: ${which}`)
    } else this.alarms.clear(LISTENER_NEAR_MAX_CONNS)
  }
}

function pct (f: number): string {
  return `${(f * 100).toFixed(f < 0.01 ? 4 : 1)}%`
}
