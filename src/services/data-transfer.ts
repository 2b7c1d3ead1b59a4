/**
 * Backup and restore (GET /data/export, POST /data/import): one JSON document of a node's
 * configuration and data, and applying one on another node (on either store).
 *
 * The document is `{format, version, node, exported_at, sections: {name: [...]}}`: one entry of
 * SECTIONS per kind of data, each saying how to read it, how to tell its items apart, and how to
 * write one. A document without a section leaves that data as it is. Secrets and passwords travel as the salted hashes the store keeps, so every
 * app secret and user password works on the node that imports them.
 *
 * Import plans every section first (validating every item), then writes: a bad document changes
 * nothing. Importing the same document twice changes nothing the second time (all "kept").
 *
 * Cluster-wide: the store is shared, and bans and ACL rules are written through their services,
 * which tell every live peer at once. Hot configs and plugin states are per node: after this node,
 * every live peer gets the document's items that differ there (the diff answered is this node's).
 */
import type { AclAccess, AclAction, AclKind, AclRecord, AppRecord, BannedKind, BannedRecord, Store, UserRecord } from '../store/store.js'
import { errors } from '../core/errors.js'
import { datetime } from '../core/format.js'
import { DEFAULT_ROLE, type Role } from '../core/roles.js'
import type { ExportDocumentWire } from '../core/wire.js'
import { aclRuleOf, type AclService } from './acl.js'
import type { BannedService } from './banned.js'
import type { Plugins } from './plugins.js'
import type { Settings } from './settings.js'

export const FORMAT = 'emqx-v3-api-server/export'
export const FORMAT_VERSION = 1

/** `payload` is base64: a retained payload may be any bytes */
export interface RetainedItem { topic: string, payload: string, qos: 0 | 1 | 2 }

/** another live node of the cluster, as an import reaches it (the cluster's NodeApi fits) */
export interface TransferPeer {
  name: string
  configs: () => Promise<Array<{ app: string, key: string, value: string }>>
  setConfig: (app: string, key: string, value: string, opts: { stored: boolean }) => Promise<void>
  plugins: () => Promise<Array<{ name: string, active: boolean }>>
  loadPlugin: (name: string) => Promise<void>
  unloadPlugin: (name: string) => Promise<void>
}

/** what a section needs of the node */
export interface TransferDeps {
  node: string
  store: Store
  settings: Settings
  plugins: Plugins
  banned: BannedService
  acl: AclService
  /** the other live nodes (none when alone) */
  peers: () => Promise<TransferPeer[]>
  log?: { warn: (o: object, m: string) => void }
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
  /** instead of `write`: the section's writes at once */
  writeAll?: (writes: ReadonlyArray<[T, T | undefined]>, d: TransferDeps) => Promise<void>
  /** for data kept per node: makes a peer hold the document's items (writing what differs there) */
  toPeer?: (items: readonly T[], peer: TransferPeer) => Promise<void>
}

export type ExportDocument = ExportDocumentWire

export interface SectionDiff { added: string[], changed: string[], kept: string[] }

interface AppItem { app_id: string, name: string, desc: string, status: boolean, expired: number | null, secret_hash: string, role?: Role }
interface UserItem { username: string, tags: string, password_hash: string, role?: Role }
interface BanItem { who: string, as: BannedKind, reason: string, desc: string, by: string, until: number | null, created_at: number }
interface ConfigItem { app: string, key: string, value: string }
interface PluginItem { name: string, active: boolean }
/** POST /acl's form of a rule; listed oldest first, so that rules added in this order keep their precedence */
interface AclItem { clientid?: string, username?: string, ipaddress?: string, topic: string, action: AclAction, access: AclAccess }

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
  async write (c, _existing, d) { await d.settings.set(c.app, { [c.key]: c.value }, { stored: true }) },
  async toPeer (items, peer) {
    const there = new Map((await peer.configs()).map(c => [`${c.app}:${c.key}`, c.value]))
    for (const c of items) if (there.get(`${c.app}:${c.key}`) !== c.value) await peer.setConfig(c.app, c.key, c.value, { stored: true })
  }
}

const plugins: Section<PluginItem> = {
  read: async d => d.plugins.list().map(p => ({ name: p.name, active: p.active })),
  key: p => p.name,
  validate: (p, d) => { if (!d.plugins.has(p.name)) fail(`plugins: no plugin ${p.name} here`) },
  async write (p, _existing, d) {
    if (p.active) await d.plugins.load(p.name)
    else await d.plugins.unload(p.name)
  },
  async toPeer (items, peer) {
    const there = new Map((await peer.plugins()).map(p => [p.name, p.active]))
    for (const p of items) {
      // a peer without the plugin (another version) is left as it is
      const active = there.get(p.name)
      if (active === undefined || active === p.active) continue
      if (p.active) await peer.loadPlugin(p.name)
      else await peer.unloadPlugin(p.name)
    }
  }
}

const aclKinds: ReadonlyArray<Exclude<AclKind, 'all'>> = ['clientid', 'username', 'ipaddress']

function aclItem (r: AclRecord): AclItem {
  const item: AclItem = { topic: r.topic, action: r.action, access: r.access }
  if (r.kind !== 'all') item[r.kind] = r.who
  return item
}

/** the rule's identity as the store keeps it: target (normalised), topic, action */
function aclKey (a: AclItem): string {
  let rule: Omit<AclRecord, 'addedAt'>
  try {
    rule = aclRuleOf(a)
  } catch {
    // a bad item: validate() says why
    rule = { kind: aclKinds.find(k => a[k] !== undefined) ?? 'all', who: a.clientid ?? a.username ?? a.ipaddress ?? '', topic: a.topic, action: a.action, access: a.access }
  }
  return `${rule.kind}${rule.kind === 'all' ? '' : `:${rule.who}`} ${rule.action} ${rule.topic}`
}

const acl: Section<AclItem> = {
  read: async d => (await d.acl.list()).sort((a, b) => a.addedAt - b.addedAt).map(aclItem),
  key: aclKey,
  validate: (a) => {
    try {
      aclRuleOf(a)
    } catch (err) {
      fail(`acl ${aclKey(a)}: ${(err as Error).message}`)
    }
  },
  async write (a, _existing, d) { await d.acl.add([a]) },
  // one batch, in the document's order: all or none, the newest last, and one push to the peers
  async writeAll (writes, d) { await d.acl.add(writes.map(([a]) => a)) }
}

const retained: Section<RetainedItem> = {
  read: async d => (await d.retained.list()).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0),
  key: m => m.topic,
  validate: (m) => { if (m.topic.startsWith('$') || m.topic.includes('+') || m.topic.includes('#')) fail(`retained: ${JSON.stringify(m.topic)} is not a topic to retain`) },
  async write (m, _existing, d) { await d.retained.put(m) }
}

/** In the order they are applied (apps and users first: what credentials a node takes matters most). */
const SECTIONS: Record<string, Section<never>> = { apps, users, banned, acl, configs, plugins, retained } as unknown as Record<string, Section<never>>

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
      // the nodes live when the import starts: one that hangs during the writes (a ban's kick waits on it) is still asked
      const peers = await this.d.peers()
      for (const p of plans) {
        if (p.section.writeAll !== undefined) await p.section.writeAll(p.writes, this.d)
        else for (const [item, existing] of p.writes) await p.section.write(item, existing, this.d)
      }
      // per-node data: every live peer is brought to the document's values too (PUT /configs/{app} does the same).
      // Every peer is tried, each section once it took the ones before: a peer that fails is left out of the
      // rest and the import answers badrpc, applied everywhere else; importing the same document again completes it
      const failed = new Set<string>()
      for (const p of plans) {
        const toPeer = p.section.toPeer
        if (toPeer === undefined) continue
        const items = given[p.name] as never[]
        const tried = peers.filter(peer => !failed.has(peer.name))
        const results = await Promise.allSettled(tried.map(async peer => { await toPeer(items, peer) }))
        results.forEach((r, i) => { if (r.status === 'rejected') failed.add(tried[i]?.name ?? '') })
      }
      if (failed.size > 0) {
        this.d.log?.warn({ nodes: [...failed] }, 'import: applied here and in the store, not on these nodes (they did not answer); importing again completes it')
        throw errors.badRpc()
      }
    }
    return Object.fromEntries(plans.map(p => [p.name, p.diff]))
  }
}
