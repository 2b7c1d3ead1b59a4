/** Active alarms of this node (EMQ X's emqx_alarm_mgr): raised and cleared by the server itself. */
import type { AlarmWire } from '../api/types.js'
import { datetime } from '../api/format.js'

export type Severity = AlarmWire['severity']

interface Active { id: string, severity: Severity, title: string, summary: string, since: number }

export class Alarms {
  private readonly active = new Map<string, Active>()

  constructor (private readonly onChange: (id: string, raised: boolean) => void = () => {}) {}

  /** Raising an alarm that is already active keeps its original since-time. */
  raise (id: string, severity: Severity, title: string, summary: string): void {
    if (this.active.has(id)) return
    this.active.set(id, { id, severity, title, summary, since: Date.now() })
    this.onChange(id, true)
  }

  clear (id: string): void {
    if (this.active.delete(id)) this.onChange(id, false)
  }

  isActive (id: string): boolean {
    return this.active.has(id)
  }

  list (): AlarmWire[] {
    return [...this.active.values()]
      .sort((a, b) => a.since - b.since || (a.id < b.id ? -1 : 1))
      .map(a => ({ id: a.id, severity: a.severity, title: a.title, summary: a.summary, timestamp: datetime(a.since) }))
  }
}
