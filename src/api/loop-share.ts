/**
 * The API and the MQTT broker share one event loop. While the broker is busy (`busy()`, checked
 * once per window: in production, MQTT packets above a rate), API requests get at most `share` of
 * the loop's time: they wait their turn, one at a time, so a script hammering the API slows its
 * own answers, not message delivery. When the broker is quiet the API runs unthrottled.
 *
 * Busy is the broker's own traffic, not the loop's utilisation: under a hammering API a starved
 * broker's load looks small precisely because it is being starved.
 *
 * A request's cost is the time from its start until its answer is made, which for this API
 * (in-memory lists, a local or nearby store) is close to the loop time it took. Costs are paid
 * back at `share` of wall time, so one large answer (10,000 subscriptions) is followed by a
 * proportionate pause.
 */
import { performance } from 'node:perf_hooks'

export interface LoopShareOptions {
  /** the most of the loop's time the API may take while the broker is busy, 0 < share ≤ 1 (1: no limit) */
  share: number
  /** whether the broker is busy; called at most once per window */
  busy: () => boolean
  /** how often `busy` is asked, ms */
  windowMs?: number
  /** requests waiting beyond this are refused (the caller answers 503 with Retry-After) */
  maxQueue?: number
}

export class LoopShare {
  private readonly share: number
  private readonly windowMs: number
  private readonly maxQueue: number
  private readonly busySignal: () => boolean
  private readonly queue: Array<() => void> = []
  private running = 0
  /** API time not yet paid back, ms */
  private debt = 0
  private paidAt = performance.now()
  private busy = false
  private checkedAt = -Infinity
  private timer: NodeJS.Timeout | null = null

  constructor (opts: LoopShareOptions) {
    this.share = opts.share
    this.busySignal = opts.busy
    this.windowMs = opts.windowMs ?? 100
    this.maxQueue = opts.maxQueue ?? 1000
  }

  /** whether the API is being held to its share now */
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
      this.debt += performance.now() - t0
      this.drain()
    })
  }

  private mayStart (): boolean {
    this.measure()
    if (!this.busy) return true
    // held to its share: one request at a time, once the previous ones are paid for
    return this.running === 0 && this.debt <= 0
  }

  /** Pays back debt for the time passed; asks whether the broker is busy once per window. */
  private measure (): void {
    const now = performance.now()
    this.debt = Math.max(0, this.debt - (now - this.paidAt) * this.share)
    this.paidAt = now
    if (now - this.checkedAt < this.windowMs) return
    this.checkedAt = now
    this.busy = this.busySignal()
    if (!this.busy) this.debt = 0
  }

  private drain (): void {
    while (this.queue.length > 0 && this.mayStart()) this.queue.shift()?.()
    if (this.queue.length > 0) this.schedule()
  }

  private schedule (): void {
    if (this.timer !== null || this.running > 0) return
    // when the debt is paid, or at the next check of the broker, whichever comes first
    const wait = Math.max(1, Math.min(this.debt / this.share, this.windowMs - (performance.now() - this.checkedAt)))
    this.timer = setTimeout(() => {
      this.timer = null
      this.drain()
    }, wait)
  }
}

/**
 * The broker counts as busy while it handles at least `perSec` MQTT packets a second (in and out),
 * measured between calls: light device traffic leaves the API alone.
 */
export function packetRate (packets: () => number, perSec: number): () => boolean {
  let last = packets()
  let at = performance.now()
  return () => {
    const now = performance.now()
    const n = packets()
    const rate = (n - last) * 1000 / Math.max(1, now - at)
    last = n
    at = now
    return rate >= perSec
  }
}
