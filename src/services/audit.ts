/**
 * The audit log: who called which mutating operation (and every failed login), kept in the store
 * (one log for a cluster: the store is shared). Writing it never slows or fails a request: record()
 * only redacts and queues; a background flush appends in batches and trims the log to
 * `audit.max_records` (oldest first). A full queue drops the new record, a failed write drops its
 * batch; both are logged and counted (`stats()`).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditFilter, AuditRecord, Store } from '../store/store.js'
import type { SettingDef } from './settings.js'

export const AUDIT_MAX_RECORDS = 'audit.max_records'

export const auditSettings: SettingDef[] = [
  { key: AUDIT_MAX_RECORDS, app: 'emqx', datatype: 'integer', datatpye: 'integer', desc: 'Most entries the audit log (GET /audit) keeps, cluster-wide; the oldest are dropped beyond it', default: '100000', min: 1 }
]

export type AuditEvent = Omit<AuditRecord, 'id' | 'node' | 'timestamp'>

const REDACTED = '******'
/** the seed's secret fields, and any key that names a password or secret */
const SECRET_KEY = /password|secret|^old_pwd$|^new_pwd$/i
/** a long string (a published payload) is cut here; the log records who did what, not the data */
const MAX_STRING = 1024
const MAX_ITEMS = 100
const MAX_DEPTH = 8

/** A copy of a JSON value with every secret replaced, long strings cut and deep or long structures bounded. */
export function redact (value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…(${value.length} chars)` : value
  if (value === null || typeof value !== 'object') return value ?? null
  if (depth >= MAX_DEPTH) return '…'
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map(v => redact(v, depth + 1))
    if (value.length > MAX_ITEMS) items.push(`…(${value.length} items)`)
    return items
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value).slice(0, MAX_ITEMS)) {
    // defineProperty: a key "__proto__" stays a plain key
    Object.defineProperty(out, k, { value: SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1), enumerable: true, writable: true, configurable: true })
  }
  return out
}

export interface AuditOptions {
  /** records waiting to be written; beyond it new ones are dropped (default 10,000) */
  queueMax?: number
  /** records per store write (default 500) */
  batch?: number
  /** least time between two trims (default 1000 ms) */
  trimEveryMs?: number
  /**
   * how long the first queued record waits for others to share its write (default 20 ms): the
   * embedded store's write is an fsync on the event loop, so at most ~50 a second however busy
   */
  flushDelayMs?: number
}

export class AuditLog {
  readonly #queue: AuditRecord[] = []
  readonly #instance = randomBytes(4).toString('hex')
  readonly #queueMax: number
  readonly #batch: number
  readonly #trimEveryMs: number
  readonly #flushDelayMs: number
  #seq = 0
  #flushing: Promise<void> | null = null
  #lastTrim = 0
  #trimTimer: NodeJS.Timeout | null = null
  #dirty = false
  #written = 0
  #dropped = 0
  #failed = 0

  constructor (
    private readonly store: Store,
    private readonly node: string,
    private readonly maxRecords: () => number,
    private readonly log: Logger,
    opts: AuditOptions = {}
  ) {
    this.#queueMax = opts.queueMax ?? 10000
    this.#batch = opts.batch ?? 500
    this.#trimEveryMs = opts.trimEveryMs ?? 1000
    this.#flushDelayMs = opts.flushDelayMs ?? 20
  }

  /** Queues one record; never throws and never waits. */
  record (e: AuditEvent): void {
    if (this.#queue.length >= this.#queueMax) {
      this.#dropped++
      if (this.#dropped % 1000 === 1) this.log.warn({ dropped: this.#dropped }, 'audit queue full, records dropped')
      return
    }
    const timestamp = Date.now()
    // time first, fixed width: ids sort as the records were made; the instance keeps nodes apart
    const id = `${String(timestamp).padStart(15, '0')}-${String(this.#seq++).padStart(12, '0')}-${this.#instance}`
    this.#queue.push({ ...e, body: redact(e.body), id, node: this.node, timestamp })
    this.#flushing ??= this.#flush()
  }

  async list (filter: AuditFilter, page: number, limit: number): Promise<{ count: number, items: AuditRecord[] }> {
    return await this.store.audit.list(filter, (page - 1) * limit, limit)
  }

  stats (): { queued: number, written: number, dropped: number, failed: number } {
    return { queued: this.#queue.length, written: this.#written, dropped: this.#dropped, failed: this.#failed }
  }

  /** Resolves once everything queued so far is written (or has failed), and trimmed. */
  async drain (): Promise<void> {
    while (this.#flushing !== null) await this.#flushing
    if (this.#dirty) await this.#trim()
  }

  async stop (): Promise<void> {
    await this.drain()
    if (this.#trimTimer !== null) clearTimeout(this.#trimTimer)
    this.#trimTimer = null
  }

  async #flush (): Promise<void> {
    // after the answer, and together with what the next few ms bring
    await new Promise(resolve => setTimeout(resolve, this.#flushDelayMs))
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#batch)
        try {
          await this.store.audit.append(batch)
          this.#written += batch.length
          this.#dirty = true
        } catch (err) {
          this.#failed += batch.length
          this.log.error({ err, records: batch.length, failed: this.#failed }, 'audit records could not be written')
        }
      }
      this.#scheduleTrim()
    } finally {
      this.#flushing = null
    }
  }

  /** At most one trim per trimEveryMs: counting past 100,000 rows on every write would cost more than the write. */
  #scheduleTrim (): void {
    if (!this.#dirty || this.#trimTimer !== null) return
    const wait = Math.max(0, this.#lastTrim + this.#trimEveryMs - Date.now())
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = null
      this.#trim().catch(() => {}) // #trim logs its own failures
    }, wait)
    this.#trimTimer.unref()
  }

  async #trim (): Promise<void> {
    this.#dirty = false
    this.#lastTrim = Date.now()
    try {
      await this.store.audit.trim(this.maxRecords())
    } catch (err) {
      this.#dirty = true
      this.log.error({ err }, 'audit log could not be trimmed')
    }
  }
}
