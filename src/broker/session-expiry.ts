/**
 * A v5 session's own expiry, kept in the store while its client is away so that it survives a
 * restart (aedes 2 times it in the memory of the node only, and the registry would list a restored
 * session with EMQ X's 3.1.1 default). Written when the client leaves, deleted when it comes back
 * or its session ends; read once at start, for the sessions restored from the persistence.
 */

import type { Registry } from './registry.js'
import type { Logger, SessionExpiryStore, StoredExpiry } from './types.js'

export class SessionExpiries {
  /** client ids with a record in the store (this node's writes and what it found at start) */
  private readonly recorded = new Set<string>()

  constructor (private readonly store: SessionExpiryStore | undefined, private readonly registry: Registry, private readonly log: Logger) {}

  /** After the stored sessions were restored: each gets its stored expiry; records of sessions gone are removed. */
  async restore (): Promise<void> {
    if (this.store === undefined) return
    for (const [clientId, value] of Object.entries(await this.store.all())) {
      const e = asExpiry(value)
      const s = this.registry.liveSession(clientId)
      if (e === null || s === undefined || s.connected) {
        this.forget(clientId)
        continue
      }
      this.recorded.add(clientId)
      this.registry.restoreExpiry(clientId, e.interval, e.disconnectedAt)
    }
  }

  /** The client's connection closed: a v5 session the registry keeps offline is recorded. */
  left (clientId: string, now: number): void {
    const s = this.registry.liveSession(clientId)
    if (this.store === undefined || s === undefined || s.connected || s.sessionExpiry === null) return
    this.recorded.add(clientId)
    this.store.set(clientId, { interval: s.sessionExpiry, disconnectedAt: now }).catch((err: unknown) => {
      this.log.warn({ clientId, err: String(err) }, 'session expiry could not be stored: after a restart the session keeps the default expiry')
    })
  }

  /** The client is back, or its session ended: no record any more. */
  forget (clientId: string): void {
    if (this.store === undefined) return
    this.recorded.delete(clientId)
    this.store.delete(clientId).catch(() => {}) // a stale record is removed at the next start
  }

  /** the same, only when a record is known to exist (every connect asks: no store write for most) */
  back (clientId: string): void {
    if (this.recorded.has(clientId)) this.forget(clientId)
  }
}

function asExpiry (v: unknown): StoredExpiry | null {
  const e = v as Partial<StoredExpiry> | null
  return typeof e?.interval === 'number' && typeof e.disconnectedAt === 'number' ? { interval: e.interval, disconnectedAt: e.disconnectedAt } : null
}
