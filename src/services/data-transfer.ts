/**
 * Backup and restore (GET /data/export, POST /data/import): one JSON document of a node's
 * configuration and data, and applying one on another node (on either store).
 *
 * The document is `{format, version, node, exported_at, sections: {name: [...]}}`: one entry of
 * SECTIONS per kind of data, each saying how to read it, how to tell its items apart, and how to
 * write one. A new kind of data (ACL rules) is one more entry; a document without a section leaves
 * that data as it is. Secrets and passwords travel as the salted hashes the store keeps, so every
 * app secret and user password works on the node that imports them.
 *
 * Import plans every section first (validating every item), then writes: a bad document changes
 * nothing. Importing the same document twice changes nothing the second time (all "kept").
 */
import type { AppRecord, BannedKind, BannedRecord, Store, UserRecord } from '../store/store.js'
import { errors } from '../core/errors.js'
import { datetime } from '../core/format.js'
import { DEFAULT_ROLE, type Role } from '../core/roles.js'
import type { ExportDocumentWire } from '../core/wire.js'
import type { BannedService } from './banned.js'
import type { Plugins } from './plugins.js'
import type { Settings } from './settings.js'

export const FORMAT = 'emqx-v3-api-server/export'
export const FORMAT_VERSION = 1

/** `payload` is base64: a retained payload may be any bytes */
export interface RetainedItem { topic: string, payload: string, qos: 0 | 1 | 2 }

/** what a section needs of the node */
export interface TransferDeps {
  node: string
  store: Store
  settings: Settings
  plugins: Plugins
  banned: BannedService
  /** the retained messages (not $SYS), and storing one (a retained publish) */
  retained: { list: () => Promise<RetainedItem[]>, put: (m: RetainedItem) => Promise<void> }
}

interface Section<T> {
  /** read from this node, in a stable order */
  read: (d: TransferDeps) => Promise<T[]>
  /** the item's identity within its section */
  key: (item: T) => string
  /** checks an item of a document; throws a 400 that names what is wrong */
  validate: (item: T, d: TransferDeps) => void
  write: (item: T, existing: T | undefined, d: TransferDeps) => Promise<void>
}

export type ExportDocument = ExportDocumentWire

export interface SectionDiff { added: string[], changed: string[], kept: string[] }

interface AppItem { app_id: string, name: string, desc: string, status: boolean, expired: number | null, secret_hash: string, role?: Role }
interface UserItem { username: string, tags: string, password_hash: string, role?: Role }
interface BanItem { who: string, as: BannedKind, reason: string, desc: string, by: string, until: number | null, created_at: number }
interface ConfigItem { app: string, key: string, value: string }
interface PluginItem { name: string, active: boolean }

const fail = (what: string): never => { throw errors.badParam(`import: ${what}`) }

const apps: Section<AppItem> = {
  read: async d => (await d.store.apps.list()).map(a => ({ app_id: a.app_id, name: a.name, desc: a.desc, status: a.status, expired: a.expired, secret_hash: a.secretHash, role: a.role })),
  key: a => a.app_id,
  validate: () => {},
  async write (a, existing, d) {
    // a document from before roles existed: its apps and users are administrators, as the stores read such rows
    const rec: AppRecord = { app_id: a.app_id, name: a.name, desc: a.desc, status: a.status, expired: a.expired, secretHash: a.secret_hash, role: a.role ?? DEFAULT_ROLE }
    if (existing === undefined) {
      if (await d.store.apps.insert(rec)) return
    }
    // a changed secret cannot be patched: the record is written whole
    await d.store.apps.delete(a.app_id)
    await d.store.apps.insert(rec)
  }
}

const users: Section<UserItem> = {
  read: async d => (await d.store.users.list()).map(u => ({ username: u.username, tags: u.tags, password_hash: u.passwordHash, role: u.role })),
  key: u => u.username,
  validate: () => {},
  async write (u, existing, d) {
    const rec: UserRecord = { username: u.username, tags: u.tags, passwordHash: u.password_hash, role: u.role ?? DEFAULT_ROLE }
    if (existing === undefined && await d.store.users.insert(rec)) return
    await d.store.users.update(u.username, { tags: rec.tags, passwordHash: rec.passwordHash, role: rec.role })
  }
}

const banned: Section<BanItem> = {
  read: async d => (await d.banned.list()).map(b => ({ who: b.who, as: b.as, reason: b.reason, desc: b.desc, by: b.by, until: b.until, created_at: b.createdAt })),
  key: b => `${b.as}:${b.who}`,
  validate: () => {},
  // through the service: the ban applies at once and kicks matching clients
  async write (b, _existing, d) {
    const rec: BannedRecord = { who: b.who, as: b.as, reason: b.reason, desc: b.desc, by: b.by, until: b.until, createdAt: b.created_at }
    await d.banned.create(rec)
  }
}

const configs: Section<ConfigItem> = {
  read: async d => d.settings.list().map(s => ({ app: s.app, key: s.key, value: s.value })),
  key: c => `${c.app}:${c.key}`,
  validate: (c, d) => {
    try {
      d.settings.check(c.app, { [c.key]: c.value })
    } catch (err) {
      fail(`configs ${c.app} ${c.key}: ${(err as Error).message}`)
    }
  },
  async write (c, _existing, d) { await d.settings.set(c.app, { [c.key]: c.value }, { stored: true }) }
}

const plugins: Section<PluginItem> = {
  read: async d => d.plugins.list().map(p => ({ name: p.name, active: p.active })),
  key: p => p.name,
  validate: (p, d) => { if (!d.plugins.has(p.name)) fail(`plugins: no plugin ${p.name} here`) },
  async write (p, _existing, d) {
    if (p.active) await d.plugins.load(p.name)
    else await d.plugins.unload(p.name)
  }
}

const retained: Section<RetainedItem> = {
  read: async d => (await d.retained.list()).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0),
  key: m => m.topic,
  validate: (m) => { if (m.topic.startsWith('$') || m.topic.includes('+') || m.topic.includes('#')) fail(`retained: ${JSON.stringify(m.topic)} is not a topic to retain`) },
  async write (m, _existing, d) { await d.retained.put(m) }
}

/** In the order they are applied (apps and users first: what credentials a node takes matters most). */
const SECTIONS: Record<string, Section<never>> = { apps, users, banned, configs, plugins, retained } as unknown as Record<string, Section<never>>

/** items are flat objects: compared field by field, whatever the order of their keys */
const canon = (x: object): string => JSON.stringify(x, Object.keys(x).sort())
const same = (a: object, b: object): boolean => canon(a) === canon(b)

export class DataTransfer {
  constructor (private readonly d: TransferDeps) {}

  async export (): Promise<ExportDocument> {
    const sections: Record<string, unknown[]> = {}
    for (const [name, s] of Object.entries(SECTIONS)) sections[name] = await s.read(this.d)
    return { format: FORMAT, version: FORMAT_VERSION, node: this.d.node, exported_at: datetime(), sections } as ExportDocument
  }

  /** The diff of every section in the document; applied unless dryRun. */
  async import (doc: ExportDocument, dryRun: boolean): Promise<Record<string, SectionDiff>> {
    if (doc.format !== FORMAT) fail(`format must be ${JSON.stringify(FORMAT)}`)
    if (doc.version > FORMAT_VERSION) fail(`the document's format version ${doc.version} is newer than this server's (${FORMAT_VERSION}); import it into a newer server`)
    const given = doc.sections as Record<string, unknown[] | undefined>
    for (const name of Object.keys(given)) if (!(name in SECTIONS)) fail(`unknown section ${JSON.stringify(name)}`)
    // plan everything, then write
    const plans: Array<{ name: string, section: Section<never>, diff: SectionDiff, writes: Array<[never, never | undefined]> }> = []
    for (const [name, section] of Object.entries(SECTIONS)) {
      const items = given[name] as never[] | undefined
      if (items === undefined) continue
      const current = new Map((await section.read(this.d)).map(x => [section.key(x), x]))
      const diff: SectionDiff = { added: [], changed: [], kept: [] }
      const writes: Array<[never, never | undefined]> = []
      const seen = new Set<string>()
      for (const item of items) {
        const k = section.key(item)
        if (seen.has(k)) fail(`${name}: ${k} is there twice`)
        seen.add(k)
        section.validate(item, this.d)
        const existing = current.get(k)
        if (existing === undefined) diff.added.push(k)
        else if (same(existing as object, item as object)) { diff.kept.push(k); continue } else diff.changed.push(k)
        writes.push([item, existing])
      }
      plans.push({ name, section, diff, writes })
    }
    if (!dryRun) {
      for (const p of plans) for (const [item, existing] of p.writes) await p.section.write(item, existing, this.d)
    }
    return Object.fromEntries(plans.map(p => [p.name, p.diff]))
  }
}
