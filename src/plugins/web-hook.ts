/**
 * emqx_web_hook: POSTs each client and message event as JSON to `web.hook.api.url`, in order.
 * Events wait in a bounded in-memory queue (full: the oldest is dropped and counted); one sender
 * posts them with a timeout, retries a failed one with backoff, and gives an event up after a few
 * attempts so a rejecting endpoint cannot stall the queue. Nothing here ever blocks the broker.
 * While the endpoint keeps failing the alarm web_hook_failing is raised; the next success clears it.
 */
import type { Plugin, PluginContext } from './plugin.js'
import type { BrokerEvents, HookEvent } from './events.js'
import type { SettingDef } from '../services/settings.js'

const NAME = 'emqx_web_hook'
export const WEB_HOOK_ALARM = 'web_hook_failing'

export interface WebHookOptions {
  /** queued events at most (default 10000) */
  queueMax?: number
  /** per POST (default 5000 ms) */
  timeoutMs?: number
  /** first retry delay, doubled up to maxBackoffMs (defaults 100 / 5000 ms) */
  backoffMs?: number
  maxBackoffMs?: number
  /** attempts per event before it is given up (default 5) */
  attempts?: number
  /** consecutive failed attempts that raise the alarm (default 3) */
  alarmAfter?: number
}

const SETTINGS: SettingDef[] = [
  { key: 'web.hook.api.url', app: NAME, datatype: 'url', datatpye: 'string', desc: 'Where events are POSTed (http or https; empty: events are discarded)', default: '' }
]

export class WebHook implements Plugin {
  readonly name = NAME
  readonly description = 'EMQ X Webhook Plugin'
  readonly defaultActive = false
  readonly settings = SETTINGS
  /** events dropped because the queue was full, or given up after every attempt failed */
  dropped = 0
  private queue: HookEvent[] = []
  private head = 0
  private off: (() => void) | null = null
  private sending = false
  private failures = 0
  private wake: (() => void) | null = null
  private readonly o: Required<WebHookOptions>

  constructor (private readonly ctx: PluginContext, private readonly events: BrokerEvents, opts: WebHookOptions = {}) {
    this.o = { queueMax: 10000, timeoutMs: 5000, backoffMs: 100, maxBackoffMs: 5000, attempts: 5, alarmAfter: 3, ...opts }
  }

  get queued (): number { return this.queue.length - this.head }

  start (): void {
    if (this.off !== null) return
    this.off = this.events.on(e => this.enqueue(e))
  }

  stop (): void {
    this.off?.()
    this.off = null
    this.queue = []
    this.head = 0
    this.wake?.()
    this.failures = 0
    this.ctx.alarms.clear(WEB_HOOK_ALARM)
  }

  private enqueue (e: HookEvent): void {
    if (this.ctx.settings.string('web.hook.api.url') === '') return
    if (this.queued >= this.o.queueMax) {
      this.head++
      this.dropped++
    }
    this.queue.push(e)
    if (!this.sending) {
      this.sending = true
      this.drain().catch((err: unknown) => this.ctx.log.error({ err: String(err) }, 'web hook sender failed'))
        .finally(() => { this.sending = false })
    }
  }

  /** The one sender: posts the queue head until the queue is empty or the plugin stops. */
  private async drain (): Promise<void> {
    let attempt = 0
    while (this.off !== null && this.queued > 0) {
      const e = this.queue[this.head] as HookEvent
      const ok = await this.post(e)
      // a full queue may have dropped `e` meanwhile: then the head is already the next event
      const current = this.queue[this.head] === e
      if (ok || !current) {
        attempt = 0
        if (current) this.next()
        if (ok) continue
      } else if (++attempt >= this.o.attempts) {
        attempt = 0
        this.dropped++
        this.next()
      }
      await this.sleep(Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.min(attempt, 16)))
    }
  }

  private next (): void {
    this.head++
    // compact now and then rather than shifting on every event
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  private async post (e: HookEvent): Promise<boolean> {
    const url = this.ctx.settings.string('web.hook.api.url')
    if (url === '') return true // unconfigured meanwhile: nothing to deliver to
    let ok = false
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(e.body),
        signal: AbortSignal.timeout(this.o.timeoutMs)
      })
      await res.body?.cancel()
      ok = res.ok
    } catch {}
    // unloaded while this POST was in flight: its outcome no longer raises or clears anything
    if (this.off === null) return ok
    if (ok) {
      this.failures = 0
      this.ctx.alarms.clear(WEB_HOOK_ALARM)
    } else if (++this.failures >= this.o.alarmAfter) {
      this.ctx.alarms.raise(WEB_HOOK_ALARM, 'warning', 'Web hook failing', `POST to ${new URL(url).host} keeps failing (${this.failures} attempts in a row, ${this.dropped} events dropped)`)
    }
    return ok
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { this.wake = null; resolve() }, ms)
      t.unref()
      this.wake = () => { clearTimeout(t); this.wake = null; resolve() }
    })
  }
}
