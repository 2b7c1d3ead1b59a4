/**
 * The API and the MQTT broker share one event loop. While other work (MQTT traffic) keeps the loop
 * busy, API requests get at most `share` of the loop's time: they wait their turn, one at a time,
 * instead of running at once, so a script hammering the API slows its own answers, not message
 * delivery. When the loop is otherwise quiet the API runs unthrottled.
 *
 * A request's cost is the time from its start until its answer is made, which for this API
 * (in-memory lists, a local or nearby store) is close to the loop time it took. Costs are paid back at `share` of
 * wall time, so one large answer (10,000 subscriptions) is followed by a proportionate pause.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

export interface LoopShareOptions {
  /** the most of the loop's time the API may take while the loop is busy, 0 < share ≤ 1 (1: no limit) */
  share: number
  /** how often the loop's other load is re-measured, ms */
  windowMs?: number
  /** utilisation by other work above which the API is held to its share */
  busyAbove?: number
  /** requests waiting beyond this are refused (the caller answers 503 with Retry-After) */
  maxQueue?: number
}

export class LoopShare {
  private readonly share: number
  private readonly windowMs: number
  private readonly busyAbove: number
  private readonly maxQueue: number
  private readonly queue: Array<() => void> = []
  private running = 0
  /** API time not yet paid back, ms */
  private debt = 0
  private paidAt = performance.now()
  private busy = false
  private windowStart = performance.now()
  private windowApiMs = 0
  private elu: EventLoopUtilization = performance.eventLoopUtilization()
  private timer: NodeJS.Timeout | null = null

  constructor (opts: LoopShareOptions) {
    this.share = opts.share
    this.windowMs = opts.windowMs ?? 100
    this.busyAbove = opts.busyAbove ?? 0.5
    this.maxQueue = opts.maxQueue ?? 1000
  }

  /** whether the API is being held to its share now (for tests and logs) */
  get throttled (): boolean {
    this.measure()
    return this.busy
  }

  /**
   * Runs `start` now or when the API's turn comes; `start` gets the function to call once the
   * request is answered (idempotent). Returns false (and never runs it) when the queue is full.
   */
  admit (start: (done: () => void) => void): boolean {
    if (this.share >= 1) {
      start(() => {})
      return true
    }
    if (this.queue.length === 0 && this.mayStart()) {
      this.run(start)
      return true
    }
    if (this.queue.length >= this.maxQueue) return false
    this.queue.push(() => { this.run(start) })
    this.schedule()
    return true
  }

  private run (start: (done: () => void) => void): void {
    this.running++
    const t0 = performance.now()
    let finished = false
    start(() => {
      if (finished) return
      finished = true
      this.running--
      const ms = performance.now() - t0
      this.debt += ms
      this.windowApiMs += ms
      this.drain()
    })
  }

  private mayStart (): boolean {
    this.measure()
    if (!this.busy) return true
    // held to its share: one request at a time, once the previous ones are paid for
    return this.running === 0 && this.debt <= 0
  }

  /** Re-measures the loop's other load once per window and pays back debt for the time passed. */
  private measure (): void {
    const now = performance.now()
    this.debt = Math.max(0, this.debt - (now - this.paidAt) * this.share)
    this.paidAt = now
    const elapsed = now - this.windowStart
    if (elapsed < this.windowMs) return
    const elu = performance.eventLoopUtilization(this.elu)
    this.elu = performance.eventLoopUtilization()
    const other = elu.utilization - this.windowApiMs / elapsed
    this.busy = other > this.busyAbove
    if (!this.busy) this.debt = 0
    this.windowStart = now
    this.windowApiMs = 0
  }

  private drain (): void {
    while (this.queue.length > 0 && this.mayStart()) this.queue.shift()?.()
    if (this.queue.length > 0) this.schedule()
  }

  private schedule (): void {
    if (this.timer !== null || this.running > 0) return
    // when the debt is paid, or at the next re-measurement, whichever comes first
    const wait = Math.max(1, Math.min(this.debt / this.share, this.windowMs - (performance.now() - this.windowStart)))
    this.timer = setTimeout(() => {
      this.timer = null
      this.drain()
    }, wait)
  }
}
