/**
 * Embedded Store backend: one SQLite file, <dataDir>/emqx-api.db, through better-sqlite3.
 * better-sqlite3 is synchronous; methods are async so errors surface as rejections.
 * WAL + synchronous=FULL: a resolved write has been fsynced and survives a crash or power loss.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Database as Db, Statement } from 'better-sqlite3'
import { StoreUnavailableError } from './store.js'
import type {
  AclAccess, AclAction, AclKind, AclRecord, AclRepo, AlarmHistoryRecord, AlarmHistoryRepo, AppPatch, AppRecord, AppRepo, AuditFilter, AuditRecord, AuditRepo, BannedKind, BannedRecord, BannedRepo, KvRepo,
  MemberRecord, MemberRepo, Store, UserPatch, UserRecord, UserRepo
} from './store.js'
import { isRole, type Role } from '../core/roles.js'

export const SQLITE_FILE = 'emqx-api.db'

// `desc` and `by` are SQL keywords, hence description/by_who
const SCHEMA = `
CREATE TABLE IF NOT EXISTS apps (
  app_id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status INTEGER NOT NULL,
  expired INTEGER,
  secret_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'administrator'
);
CREATE TABLE IF NOT EXISTS users (
  username TEXT NOT NULL PRIMARY KEY,
  tags TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'administrator'
);
CREATE TABLE IF NOT EXISTS banned (
  kind TEXT NOT NULL,
  who TEXT NOT NULL,
  reason TEXT NOT NULL,
  description TEXT NOT NULL,
  by_who TEXT NOT NULL,
  until INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (kind, who)
);
CREATE INDEX IF NOT EXISTS banned_until ON banned (until);
CREATE TABLE IF NOT EXISTS acl (
  kind TEXT NOT NULL,
  who TEXT NOT NULL,
  topic TEXT NOT NULL,
  action TEXT NOT NULL,
  access TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (kind, who, topic, action)
);
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (ns, key)
);
CREATE TABLE IF NOT EXISTS alarm_history (
  node TEXT NOT NULL,
  name TEXT NOT NULL,
  severity TEXT NOT NULL,
  title TEXT NOT NULL,
  message TEXT NOT NULL,
  activated_at INTEGER NOT NULL,
  deactivated_at INTEGER NOT NULL,
  PRIMARY KEY (node, name, activated_at)
);
CREATE INDEX IF NOT EXISTS alarm_history_newest ON alarm_history (deactivated_at DESC, node, name, activated_at DESC);
CREATE TABLE IF NOT EXISTS members (
  name TEXT NOT NULL PRIMARY KEY,
  instance TEXT NOT NULL,
  api_url TEXT NOT NULL,
  version TEXT NOT NULL,
  otp_release TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  running INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  id TEXT NOT NULL PRIMARY KEY,
  ts INTEGER NOT NULL,
  node TEXT NOT NULL,
  event TEXT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  method TEXT NOT NULL,
  operation TEXT NOT NULL,
  path_params TEXT NOT NULL,
  body TEXT NOT NULL,
  status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
`

/**
 * Columns added after a table first shipped: a database written by an older version gets them at
 * init, with the value old rows take (users and apps from before roles are administrators).
 */
const ADDED_COLUMNS: Array<[table: string, column: string, ddl: string]> = [
  ['apps', 'role', "role TEXT NOT NULL DEFAULT 'administrator'"],
  ['users', 'role', "role TEXT NOT NULL DEFAULT 'administrator'"]
]

function migrate (db: Db): void {
  for (const [table, column, ddl] of ADDED_COLUMNS) {
    const cols = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>
    if (!cols.some(c => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${ddl}`)
  }
}

/** an unknown stored role (written by hand, or by a newer version) grants the least */
const toRole = (v: string): Role => isRole(v) ? v : 'viewer'

interface AppRow {
  app_id: string
  name: string
  description: string
  status: number
  expired: number | null
  secret_hash: string
  role: string
}

interface UserRow {
  username: string
  tags: string
  password_hash: string
  role: string
}

interface BannedRow {
  kind: string
  who: string
  reason: string
  description: string
  by_who: string
  until: number | null
  created_at: number
}

interface AclRow {
  kind: string
  who: string
  topic: string
  action: string
  access: string
  added_at: number
}

const toAcl = (r: AclRow): AclRecord => ({
  kind: r.kind as AclKind,
  who: r.who,
  topic: r.topic,
  action: r.action as AclAction,
  access: r.access as AclAccess,
  addedAt: r.added_at
})

interface MemberRow {
  name: string
  instance: string
  api_url: string
  version: string
  otp_release: string
  started_at: number
  heartbeat_at: number
  running: number
}

const toMember = (r: MemberRow): MemberRecord => ({
  name: r.name,
  instance: r.instance,
  apiUrl: r.api_url,
  version: r.version,
  otpRelease: r.otp_release,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
  running: r.running !== 0
})

interface AuditRow {
  id: string
  ts: number
  node: string
  event: string
  actor: string
  role: string
  source_ip: string
  method: string
  operation: string
  path_params: string
  body: string
  status: number
}

const toAudit = (r: AuditRow): AuditRecord => ({
  id: r.id,
  timestamp: r.ts,
  node: r.node,
  event: r.event === 'login_failed' ? 'login_failed' : 'request',
  actor: r.actor,
  role: r.role === 'none' ? 'none' : toRole(r.role),
  sourceIp: r.source_ip,
  method: r.method,
  operation: r.operation,
  pathParams: JSON.parse(r.path_params) as Record<string, string>,
  body: JSON.parse(r.body) as unknown,
  status: r.status
})

interface AlarmHistoryRow {
  node: string
  name: string
  severity: string
  title: string
  message: string
  activated_at: number
  deactivated_at: number
}

const toAlarmHistory = (r: AlarmHistoryRow): AlarmHistoryRecord => ({
  node: r.node,
  name: r.name,
  severity: r.severity,
  title: r.title,
  message: r.message,
  activatedAt: r.activated_at,
  deactivatedAt: r.deactivated_at
})

interface KvRow {
  key: string
  value: string
}

const toApp = (r: AppRow): AppRecord => ({
  app_id: r.app_id,
  name: r.name,
  desc: r.description,
  status: r.status !== 0,
  expired: r.expired,
  secretHash: r.secret_hash,
  role: toRole(r.role)
})

const toUser = (r: UserRow): UserRecord => ({
  username: r.username,
  tags: r.tags,
  passwordHash: r.password_hash,
  role: toRole(r.role)
})

const toBanned = (r: BannedRow): BannedRecord => ({
  who: r.who,
  as: r.kind as BannedKind,
  reason: r.reason,
  desc: r.description,
  by: r.by_who,
  until: r.until,
  createdAt: r.created_at
})

// JSON.stringify(undefined) is undefined; keep the column NOT NULL by storing null instead
const toJson = (value: unknown): string => JSON.stringify(value) ?? 'null'

/** Builds `SET a = ?, b = ?` from a whitelist of columns; only defined patch fields are included. */
function setClause (fields: Array<[column: string, value: unknown]>): { sql: string, params: unknown[] } {
  const present = fields.filter(([, v]) => v !== undefined)
  return {
    sql: present.map(([c]) => `${c} = ?`).join(', '),
    params: present.map(([, v]) => v)
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  readonly apps: AppRepo
  readonly users: UserRepo
  readonly banned: BannedRepo
  readonly acl: AclRepo
  readonly kv: KvRepo
  readonly members: MemberRepo
  readonly audit: AuditRepo
  readonly alarmHistory: AlarmHistoryRepo
  readonly file: string
  readonly #dataDir: string
  #db: Db | null = null
  #stmts = new Map<string, Statement>()

  constructor (opts: { dataDir: string }) {
    this.#dataDir = opts.dataDir
    this.file = join(opts.dataDir, SQLITE_FILE)
    this.apps = this.#appRepo()
    this.users = this.#userRepo()
    this.banned = this.#bannedRepo()
    this.acl = this.#aclRepo()
    this.kv = this.#kvRepo()
    this.members = this.#memberRepo()
    this.audit = this.#auditRepo()
    this.alarmHistory = this.#alarmHistoryRepo()
  }

  async init (): Promise<void> {
    if (this.#db !== null) return
    mkdirSync(this.#dataDir, { recursive: true })
    const db = new Database(this.file)
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      // another process (e.g. a CLI) may hold the write lock briefly
      db.pragma('busy_timeout = 5000')
      db.transaction(() => {
        db.exec(SCHEMA)
        migrate(db)
      }).immediate()
    } catch (err) {
      db.close()
      throw err
    }
    this.#db = db
  }

  async ping (): Promise<void> {
    try {
      this.#open().prepare('SELECT 1').get()
    } catch (err) {
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err)
    }
  }

  async close (): Promise<void> {
    const db = this.#db
    this.#db = null
    this.#stmts.clear()
    db?.close()
  }

  #open (): Db {
    if (this.#db === null) throw new StoreUnavailableError(new Error('sqlite store is not open'))
    return this.#db
  }

  /** prepared once per open database; every SQL text here is a constant, values are bound */
  #stmt (sql: string): Statement {
    const db = this.#open()
    let stmt = this.#stmts.get(sql)
    if (stmt === undefined) {
      stmt = db.prepare(sql)
      this.#stmts.set(sql, stmt)
    }
    return stmt
  }

  #appRepo (): AppRepo {
    const cols = 'app_id, name, description, status, expired, secret_hash, role'
    const get = (appId: string): AppRecord | null => {
      const row = this.#stmt(`SELECT ${cols} FROM apps WHERE app_id = ?`).get(appId) as AppRow | undefined
      return row === undefined ? null : toApp(row)
    }
    return {
      list: async () => (this.#stmt(`SELECT ${cols} FROM apps ORDER BY app_id`).all() as AppRow[]).map(toApp),
      get: async (appId) => get(appId),
      insert: async (app) => {
        const info = this.#stmt(`INSERT INTO apps (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id) DO NOTHING`)
          .run(app.app_id, app.name, app.desc, app.status ? 1 : 0, app.expired, app.secretHash, app.role)
        return info.changes === 1
      },
      update: async (appId, patch: AppPatch) => {
        const set = setClause([
          ['name', patch.name],
          ['description', patch.desc],
          ['status', patch.status === undefined ? undefined : (patch.status ? 1 : 0)],
          ['expired', patch.expired],
          ['role', patch.role]
        ])
        return this.#open().transaction(() => {
          if (set.params.length > 0) {
            this.#stmt(`UPDATE apps SET ${set.sql} WHERE app_id = ?`).run(...set.params, appId)
          }
          return get(appId)
        }).immediate()
      },
      delete: async (appId) => this.#stmt('DELETE FROM apps WHERE app_id = ?').run(appId).changes === 1
    }
  }

  #userRepo (): UserRepo {
    const cols = 'username, tags, password_hash, role'
    const get = (username: string): UserRecord | null => {
      const row = this.#stmt(`SELECT ${cols} FROM users WHERE username = ?`).get(username) as UserRow | undefined
      return row === undefined ? null : toUser(row)
    }
    return {
      list: async () => (this.#stmt(`SELECT ${cols} FROM users ORDER BY username`).all() as UserRow[]).map(toUser),
      get: async (username) => get(username),
      count: async () => (this.#stmt('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n,
      insert: async (user) => {
        const info = this.#stmt(`INSERT INTO users (${cols}) VALUES (?, ?, ?, ?) ON CONFLICT (username) DO NOTHING`)
          .run(user.username, user.tags, user.passwordHash, user.role)
        return info.changes === 1
      },
      update: async (username, patch: UserPatch) => {
        const set = setClause([['tags', patch.tags], ['password_hash', patch.passwordHash], ['role', patch.role]])
        return this.#open().transaction(() => {
          if (set.params.length > 0) {
            this.#stmt(`UPDATE users SET ${set.sql} WHERE username = ?`).run(...set.params, username)
          }
          return get(username)
        }).immediate()
      },
      delete: async (username) => this.#stmt('DELETE FROM users WHERE username = ?').run(username).changes === 1
    }
  }

  #alarmHistoryRepo (): AlarmHistoryRepo {
    const cols = 'node, name, severity, title, message, activated_at, deactivated_at'
    const order = 'ORDER BY deactivated_at DESC, node, name, activated_at DESC'
    return {
      list: async () => (this.#stmt(`SELECT ${cols} FROM alarm_history ${order}`).all() as AlarmHistoryRow[]).map(toAlarmHistory),
      add: async (e, keep) => {
        this.#open().transaction(() => {
          this.#stmt(`INSERT OR IGNORE INTO alarm_history (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?)`)
            .run(String(e.node), String(e.name), String(e.severity), String(e.title), String(e.message), Number(e.activatedAt), Number(e.deactivatedAt))
          this.#stmt(`DELETE FROM alarm_history WHERE rowid IN (SELECT rowid FROM alarm_history ${order} LIMIT -1 OFFSET ?)`).run(keep)
        })()
      },
      clear: async () => this.#stmt('DELETE FROM alarm_history').run().changes
    }
  }

  #bannedRepo (): BannedRepo {
    const cols = 'kind, who, reason, description, by_who, until, created_at'
    return {
      list: async () => (this.#stmt(`SELECT ${cols} FROM banned ORDER BY kind, who`).all() as BannedRow[]).map(toBanned),
      get: async (as, who) => {
        const row = this.#stmt(`SELECT ${cols} FROM banned WHERE kind = ? AND who = ?`).get(as, who) as BannedRow | undefined
        return row === undefined ? null : toBanned(row)
      },
      put: async (e) => {
        // every column is replaced, so the entry is exactly the one just put
        this.#stmt(`INSERT INTO banned (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (kind, who) DO UPDATE SET reason = excluded.reason, description = excluded.description,
          by_who = excluded.by_who, until = excluded.until, created_at = excluded.created_at`)
          .run(e.as, e.who, e.reason, e.desc, e.by, e.until, e.createdAt)
      },
      delete: async (as, who) => this.#stmt('DELETE FROM banned WHERE kind = ? AND who = ?').run(as, who).changes === 1,
      deleteExpired: async (nowSec) => {
        // one transaction so the returned rows are exactly the deleted ones
        return this.#open().transaction(() => {
          const rows = this.#stmt(`SELECT ${cols} FROM banned WHERE until IS NOT NULL AND until < ? ORDER BY kind, who`)
            .all(nowSec) as BannedRow[]
          this.#stmt('DELETE FROM banned WHERE until IS NOT NULL AND until < ?').run(nowSec)
          return rows.map(toBanned)
        }).immediate()
      }
    }
  }

  #aclRepo (): AclRepo {
    const cols = 'kind, who, topic, action, access, added_at'
    const order = 'ORDER BY kind, who, added_at DESC, topic, action'
    return {
      list: async (kind) => {
        const rows = kind === undefined
          ? this.#stmt(`SELECT ${cols} FROM acl ${order}`).all()
          : this.#stmt(`SELECT ${cols} FROM acl WHERE kind = ? ${order}`).all(kind)
        return (rows as AclRow[]).map(toAcl)
      },
      of: async (kind, who) => (this.#stmt(`SELECT ${cols} FROM acl WHERE kind = ? AND who = ? ${order}`).all(kind, who) as AclRow[]).map(toAcl),
      add: async (rules) => {
        // one transaction: every rule or none
        this.#open().transaction(() => {
          const put = this.#stmt(`INSERT INTO acl (${cols}) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (kind, who, topic, action) DO UPDATE SET access = excluded.access, added_at = excluded.added_at`)
          for (const r of rules) put.run(r.kind, r.who, r.topic, r.action, r.access, r.addedAt)
        }).immediate()
      },
      delete: async (kind, who, topic) => this.#stmt('DELETE FROM acl WHERE kind = ? AND who = ? AND topic = ?').run(kind, who, topic).changes
    }
  }

  #memberRepo (): MemberRepo {
    const cols = 'name, instance, api_url, version, otp_release, started_at, heartbeat_at, running'
    const get = (name: string): MemberRecord | null => {
      const row = this.#stmt(`SELECT ${cols} FROM members WHERE name = ?`).get(name) as MemberRow | undefined
      return row === undefined ? null : toMember(row)
    }
    return {
      list: async () => (this.#stmt(`SELECT ${cols} FROM members ORDER BY name`).all() as MemberRow[]).map(toMember),
      get: async (name) => get(name),
      claim: async (m, staleBefore) => {
        // the condition and the write in one statement: a live holder of the name keeps it
        const info = this.#stmt(`INSERT INTO members (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, api_url = excluded.api_url,
          version = excluded.version, otp_release = excluded.otp_release, started_at = excluded.started_at,
          heartbeat_at = excluded.heartbeat_at, running = excluded.running
          WHERE members.instance = excluded.instance OR members.running = 0 OR members.heartbeat_at < ?`)
          .run(m.name, m.instance, m.apiUrl, m.version, m.otpRelease, m.startedAt, m.heartbeatAt, m.running ? 1 : 0, staleBefore)
        return info.changes === 1
      },
      heartbeat: async (name, instance, at, running) =>
        this.#stmt('UPDATE members SET heartbeat_at = ?, running = ? WHERE name = ? AND instance = ?')
          .run(at, running ? 1 : 0, name, instance).changes === 1,
      delete: async (name) => this.#stmt('DELETE FROM members WHERE name = ?').run(name).changes === 1
    }
  }

  #auditRepo (): AuditRepo {
    const cols = 'id, ts, node, event, actor, role, source_ip, method, operation, path_params, body, status'
    // the filter's SQL text comes from this fixed set of clauses; only the values are bound
    const where = (f: AuditFilter): { sql: string, params: unknown[] } => {
      const parts: Array<[string, unknown]> = []
      if (f.actor !== undefined) parts.push(['actor = ?', String(f.actor)])
      if (f.operation !== undefined) parts.push(['operation = ?', String(f.operation)])
      if (f.status !== undefined) parts.push(['status = ?', Number(f.status)])
      if (f.fromMs !== undefined) parts.push(['ts >= ?', Number(f.fromMs)])
      if (f.toMs !== undefined) parts.push(['ts <= ?', Number(f.toMs)])
      return { sql: parts.length === 0 ? '' : `WHERE ${parts.map(p => p[0]).join(' AND ')}`, params: parts.map(p => p[1]) }
    }
    return {
      append: async (records) => {
        const insert = this.#stmt(`INSERT INTO audit (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
        this.#open().transaction(() => {
          for (const r of records) {
            insert.run(r.id, r.timestamp, r.node, r.event, r.actor, r.role, r.sourceIp, r.method, r.operation,
              JSON.stringify(r.pathParams), toJson(r.body), r.status)
          }
        }).immediate()
      },
      list: async (filter, offset, limit) => {
        const w = where(filter)
        return this.#open().transaction(() => {
          const count = (this.#stmt(`SELECT COUNT(*) AS n FROM audit ${w.sql}`).get(...w.params) as { n: number }).n
          const rows = this.#stmt(`SELECT ${cols} FROM audit ${w.sql} ORDER BY id DESC LIMIT ? OFFSET ?`)
            .all(...w.params, limit, offset) as AuditRow[]
          return { count, items: rows.map(toAudit) }
        })()
      },
      trim: async (max) => this.#open().transaction(() => {
        const edge = this.#stmt('SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?').get(Math.max(0, max)) as { id: string } | undefined
        if (edge === undefined) return 0
        return this.#stmt('DELETE FROM audit WHERE id <= ?').run(edge.id).changes
      }).immediate()
    }
  }

  #kvRepo (): KvRepo {
    return {
      all: async (ns) => {
        const rows = this.#stmt('SELECT key, value FROM kv WHERE ns = ? ORDER BY key').all(ns) as KvRow[]
        // fromEntries defines own properties, so a key like "__proto__" stays a plain key
        return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]))
      },
      get: async (ns, key) => {
        const row = this.#stmt('SELECT value FROM kv WHERE ns = ? AND key = ?').get(ns, key) as { value: string } | undefined
        return row === undefined ? undefined : JSON.parse(row.value) as unknown
      },
      set: async (ns, key, value) => {
        this.#stmt('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value')
          .run(ns, key, toJson(value))
      },
      delete: async (ns, key) => this.#stmt('DELETE FROM kv WHERE ns = ? AND key = ?').run(ns, key).changes === 1
    }
  }
}
