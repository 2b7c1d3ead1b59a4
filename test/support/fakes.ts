/** In-memory stand-ins for unit tests only (end-to-end tests use the real stores). */
import type { KvRepo } from '../../src/store/store.js'

/** The store's namespaced key/value repo in a Map; one instance shared by several fakes is a shared store. */
export class MemoryKv implements KvRepo {
  readonly data = new Map<string, Map<string, unknown>>()

  private ns (ns: string): Map<string, unknown> {
    let m = this.data.get(ns)
    if (m === undefined) this.data.set(ns, m = new Map())
    return m
  }

  keys (ns: string): string[] { return [...this.data.get(ns)?.keys() ?? []] }
  async all (ns: string): Promise<Record<string, unknown>> { return Object.fromEntries(this.ns(ns)) }
  async get (ns: string, key: string): Promise<unknown> { return this.ns(ns).get(key) }
  async set (ns: string, key: string, value: unknown): Promise<void> { this.ns(ns).set(key, value) }
  async delete (ns: string, key: string): Promise<boolean> { return this.ns(ns).delete(key) }
}
