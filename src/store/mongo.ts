/**
 * MongoDB-wire Store backend (MongoDB or FerretDB v1.24), official driver.
 * Uses only CRUD, unique indexes and findAndModify: no TTL indexes, change streams or transactions,
 * which FerretDB lacks. Filters are built only from String()-ed fields, so request values never
 * become query operators; kv values are stored as JSON text so arbitrary keys ($x, a.b) stay literal.
 */
import {
  MongoClient, MongoNetworkError, MongoNotConnectedError, MongoOperationTimeoutError,
  MongoServerError, MongoServerSelectionError, MongoTopologyClosedError
} from 'mongodb'
import type { Collection, Db, WriteConcernSettings } from 'mongodb'
import { StoreUnavailableError } from './store.js'
import { watchMonitor, type MonitorWatch } from './mongo-monitor.js'
import type {
  AclAccess, AclAction, AclKind, AclRecord, AclRepo, AlarmHistoryRecord, AlarmHistoryRepo, AppPatch, AppRecord, AppRepo, AuditFilter, AuditRecord, AuditRepo, BannedKind, BannedRecord, BannedRepo, KvRepo,
  MemberRecord, MemberRepo, Store, UserPatch, UserRecord, UserRepo
} from './store.js'
import { isRole, type Role } from '../core/roles.js'

export interface MongoStoreOptions {
  url: string
  /** default: the database in the URL, else 'emqx_api' */
  dbName?: string
  /** bound for server selection, connect and socket reads; default 3000 ms */
  timeoutMs?: number
  /** attempts made by init() when the server is unreachable; default 3 */
  initRetries?: number
  /** told of each failed start attempt that will be retried */
  onInitRetry?: (attempt: number, of: number, err: Error) => void
  /** told when a client whose server monitor hung was connected again (`err`: not yet, retrying) */
  onMonitorRestart?: (client: 'api' | 'session', err?: unknown) => void
}

interface AppDoc {
  app_id: string
  name: string
  desc: string
  status: boolean
  expired: number | null
  secretHash: string
  /** absent on documents written before roles existed (init() sets it) */
  role?: string
}

interface UserDoc {
  username: string
  tags: string
  passwordHash: string
  role?: string
}

interface BannedDoc {
  as: string
  who: string
  reason: string
  desc: string
  by: string
  until: number | null
  createdAt: number
}

interface AclDoc {
  kind: string
  who: string
  topic: string
  action: string
  access: string
  addedAt: number
}

interface MemberDoc {
  name: string
  instance: string
  apiUrl: string
  version: string
  otpRelease: string
  startedAt: number
  heartbeatAt: number
  running: boolean
}

interface AuditDoc {
  id: string
  timestamp: number
  node: string
  event: string
  actor: string
  role: string
  sourceIp: string
  method: string
  operation: string
  /** JSON text, like kv values: request keys ($x, a.b) stay literal */
  pathParams: string
  body: string
  status: number
}
type AlarmHistoryDoc = AlarmHistoryRecord

interface KvDoc {
  ns: string
  key: string
  /** JSON text */
  value: string
}

const DEFAULT_DB_NAME = 'emqx_api'
const DEFAULT_TIMEOUT_MS = 3000
/**
 * The MQTT session persistence's pool waits this long for a slow server: a failed session write
 * costs aedes the client's connection, so it must not fail after the API's fast-fail timeout (the
 * 3 s timeout dropped a QoS 1 publisher after 7,710 queued messages on a loaded FerretDB).
 */
const SESSION_TIMEOUT_MS = 30000
/** the driver's default heartbeatFrequencyMS: a streaming heartbeat may wait this long for its answer */
const HEARTBEAT_MS = 10000
const DEFAULT_INIT_RETRIES = 3
const INIT_RETRY_DELAY_MS = 500
const DUPLICATE_KEY = 11000
// majority equals the single node on a standalone server; j makes the ack wait for the journal
const WRITE_CONCERN: WriteConcernSettings = { w: 'majority', j: true }
// find() may project _id away; FerretDB v1.24 rejects a projection on findAndModify, and the
// record mappers drop _id anyway
const NO_ID = { projection: { _id: 0 } } as const

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** The path of mongodb://host[,host]/db?opts; the driver would default to 'test' instead. */
function dbNameInUrl (url: string): string {
  const afterScheme = url.slice(url.indexOf('://') + 3)
  const slash = afterScheme.indexOf('/')
  if (slash < 0) return ''
  return decodeURIComponent(afterScheme.slice(slash + 1).split('?')[0] ?? '')
}

/** Errors that mean "the server cannot be reached in time" become StoreUnavailableError. */
function isUnavailable (err: unknown): boolean {
  return err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoOperationTimeoutError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoNotConnectedError
}

function mapError (err: unknown): unknown {
  return isUnavailable(err) ? new StoreUnavailableError(err) : err
}

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === DUPLICATE_KEY

/** Users and apps from before roles existed are administrators (issue 17); an unknown role grants the least. */
const PRE_ROLE = 'administrator' as const
const toRole = (v: string | undefined): Role => v === undefined ? PRE_ROLE : isRole(v) ? v : 'viewer'

// Records are copied field by field so stray document fields never leak out (and _id is dropped).
const toApp = (d: AppDoc): AppRecord => ({
  app_id: d.app_id,
  name: d.name,
  desc: d.desc,
  status: d.status,
  expired: d.expired ?? null,
  secretHash: d.secretHash,
  role: toRole(d.role)
})

const toUser = (d: UserDoc): UserRecord => ({ username: d.username, tags: d.tags, passwordHash: d.passwordHash, role: toRole(d.role) })

const toBanned = (d: BannedDoc): BannedRecord => ({
  who: d.who,
  as: d.as as BannedKind,
  reason: d.reason,
  desc: d.desc,
  by: d.by,
  until: d.until ?? null,
  createdAt: d.createdAt
})

const appDoc = (a: AppRecord): AppDoc => ({
  app_id: String(a.app_id),
  name: String(a.name),
  desc: String(a.desc),
  status: Boolean(a.status),
  expired: a.expired === null ? null : Number(a.expired),
  secretHash: String(a.secretHash),
  role: String(a.role)
})

const userDoc = (u: UserRecord): UserDoc => ({
  username: String(u.username),
  tags: String(u.tags),
  passwordHash: String(u.passwordHash),
  role: String(u.role)
})

const bannedDoc = (b: BannedRecord): BannedDoc => ({
  as: String(b.as),
  who: String(b.who),
  reason: String(b.reason),
  desc: String(b.desc),
  by: String(b.by),
  until: b.until === null ? null : Number(b.until),
  createdAt: Number(b.createdAt)
})

const appSet = (p: AppPatch): Partial<AppDoc> => {
  const set: Partial<AppDoc> = {}
  if (p.name !== undefined) set.name = String(p.name)
  if (p.desc !== undefined) set.desc = String(p.desc)
  if (p.status !== undefined) set.status = Boolean(p.status)
  if (p.expired !== undefined) set.expired = p.expired === null ? null : Number(p.expired)
  if (p.role !== undefined) set.role = String(p.role)
  return set
}

const userSet = (p: UserPatch): Partial<UserDoc> => {
  const set: Partial<UserDoc> = {}
  if (p.tags !== undefined) set.tags = String(p.tags)
  if (p.passwordHash !== undefined) set.passwordHash = String(p.passwordHash)
  if (p.role !== undefined) set.role = String(p.role)
  return set
}

const toAcl = (d: AclDoc): AclRecord => ({
  kind: d.kind as AclKind,
  who: d.who,
  topic: d.topic,
  action: d.action as AclAction,
  access: d.access as AclAccess,
  addedAt: d.addedAt
})

const aclDoc = (r: AclRecord): AclDoc => ({
  kind: String(r.kind),
  who: String(r.who),
  topic: String(r.topic),
  action: String(r.action),
  access: String(r.access),
  addedAt: Number(r.addedAt)
})

type AclKey = Pick<AclDoc, 'kind' | 'who' | 'topic' | 'action'>
const aclKey = (d: AclDoc): AclKey => ({ kind: d.kind, who: d.who, topic: d.topic, action: d.action })
const ACL_ORDER = { kind: 1, who: 1, addedAt: -1, topic: 1, action: 1 } as const

const toMember = (d: MemberDoc): MemberRecord => ({
  name: d.name,
  instance: d.instance,
  apiUrl: d.apiUrl,
  version: d.version,
  otpRelease: d.otpRelease,
  startedAt: d.startedAt,
  heartbeatAt: d.heartbeatAt,
  running: d.running
})

const memberDoc = (m: MemberRecord): MemberDoc => ({
  name: String(m.name),
  instance: String(m.instance),
  apiUrl: String(m.apiUrl),
  version: String(m.version),
  otpRelease: String(m.otpRelease),
  startedAt: Number(m.startedAt),
  heartbeatAt: Number(m.heartbeatAt),
  running: Boolean(m.running)
})

// JSON.stringify(undefined) is undefined; store null so the field is always a string
const toJson = (value: unknown): string => JSON.stringify(value) ?? 'null'

const auditDoc = (r: AuditRecord): AuditDoc => ({
  id: String(r.id),
  timestamp: Number(r.timestamp),
  node: String(r.node),
  event: String(r.event),
  actor: String(r.actor),
  role: String(r.role),
  sourceIp: String(r.sourceIp),
  method: String(r.method),
  operation: String(r.operation),
  pathParams: toJson(r.pathParams),
  body: toJson(r.body),
  status: Number(r.status)
})

const toAudit = (d: AuditDoc): AuditRecord => ({
  id: d.id,
  timestamp: d.timestamp,
  node: d.node,
  event: d.event === 'login_failed' ? 'login_failed' : 'request',
  actor: d.actor,
  role: d.role === 'none' ? 'none' : toRole(d.role),
  sourceIp: d.sourceIp,
  method: d.method,
  operation: d.operation,
  pathParams: JSON.parse(d.pathParams) as Record<string, string>,
  body: JSON.parse(d.body) as unknown,
  status: d.status
})

/** Only String()/Number()-ed values: a request value never becomes a query operator. */
function auditQuery (f: AuditFilter): Record<string, unknown> {
  const q: Record<string, unknown> = {}
  if (f.actor !== undefined) q.actor = String(f.actor)
  if (f.operation !== undefined) q.operation = String(f.operation)
  if (f.status !== undefined) q.status = Number(f.status)
  if (f.fromMs !== undefined || f.toMs !== undefined) {
    const range: Record<string, number> = {}
    if (f.fromMs !== undefined) range.$gte = Number(f.fromMs)
    if (f.toMs !== undefined) range.$lte = Number(f.toMs)
    q.timestamp = range
  }
  return q
}

export class MongoStore implements Store {
  readonly kind = 'mongo' as const
  readonly apps: AppRepo
  readonly users: UserRepo
  readonly banned: BannedRepo
  readonly acl: AclRepo
  readonly kv: KvRepo
  readonly members: MemberRepo
  readonly audit: AuditRepo
  readonly alarmHistory: AlarmHistoryRepo
  readonly #client: MongoClient
  readonly #db: Db
  readonly #sessionClient: MongoClient
  readonly #sessionDb: Db
  readonly #initRetries: number
  readonly #onInitRetry: MongoStoreOptions['onInitRetry']
  #connected = false
  #indexed: Promise<void> | null = null
  readonly #watches: MonitorWatch[]

  constructor (opts: MongoStoreOptions) {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#initRetries = Math.max(1, opts.initRetries ?? DEFAULT_INIT_RETRIES)
    this.#onInitRetry = opts.onInitRetry
    this.#client = new MongoClient(opts.url, {
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: timeoutMs,
      waitQueueTimeoutMS: timeoutMs,
      // FerretDB has no sessions/transactions to retry writes with; a failed write is reported instead
      retryWrites: false,
      writeConcern: WRITE_CONCERN
    })
    this.#db = this.#client.db(opts.dbName ?? (dbNameInUrl(opts.url) || DEFAULT_DB_NAME))
    this.#sessionClient = new MongoClient(opts.url, {
      serverSelectionTimeoutMS: Math.max(timeoutMs, SESSION_TIMEOUT_MS),
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: Math.max(timeoutMs, SESSION_TIMEOUT_MS),
      waitQueueTimeoutMS: Math.max(timeoutMs, SESSION_TIMEOUT_MS),
      retryWrites: false,
      writeConcern: WRITE_CONCERN
    })
    this.#sessionDb = this.#sessionClient.db(this.#db.databaseName)
    // a heartbeat still unsettled well past its connect timeout and its await is stuck (mongo-monitor.ts)
    const stuckMs = timeoutMs + HEARTBEAT_MS + 5000
    const restarted = opts.onMonitorRestart ?? (() => {})
    this.#watches = [
      watchMonitor(this.#client, stuckMs, (err) => { restarted('api', err) }),
      watchMonitor(this.#sessionClient, stuckMs, (err) => { restarted('session', err) })
    ]
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
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#ready()
        return
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || attempt >= this.#initRetries) throw err
        this.#onInitRetry?.(attempt, this.#initRetries, err)
        await sleep(INIT_RETRY_DELAY_MS)
      }
    }
  }

  /** The database as the store uses it: operations fail fast (the API answers 503). */
  get database (): Db { return this.#db }

  /** The same database through the MQTT session persistence's own pool, patient with a slow server. */
  get sessionDatabase (): Db { return this.#sessionDb }

  async ping (): Promise<void> {
    await this.#run(async () => { await this.#db.command({ ping: 1 }) })
  }

  async close (): Promise<void> {
    this.#connected = false
    this.#indexed = null
    for (const w of this.#watches) w.stop()
    await Promise.all([this.#client.close(), this.#sessionClient.close()])
  }

  /**
   * Runs one operation with a connected client and maps unreachable-server errors.
   * After a failed first connect the driver keeps a closed topology and never retries it,
   * so connect explicitly until it has succeeded once; from then on the driver reconnects by itself.
   */
  async #run<T> (op: () => Promise<T>): Promise<T> {
    try {
      if (!this.#connected) {
        await this.#client.connect()
        this.#connected = true
      }
      return await op()
    } catch (err) {
      throw mapError(err)
    }
  }

  /** Connects and creates the unique indexes once; writes wait for it so uniqueness always holds. */
  async #ready (): Promise<void> {
    this.#indexed ??= this.#run(async () => {
      await this.#createIndexes()
      // connected explicitly once, like the store's own client (see #run)
      await this.#sessionClient.connect()
    }).catch((err: unknown) => {
      this.#indexed = null
      throw err
    })
    await this.#indexed
  }

  async #createIndexes (): Promise<void> {
    await this.#apps().createIndex({ app_id: 1 }, { unique: true, name: 'app_id_unique' })
    await this.#users().createIndex({ username: 1 }, { unique: true, name: 'username_unique' })
    await this.#banned().createIndex({ as: 1, who: 1 }, { unique: true, name: 'as_who_unique' })
    await this.#acl().createIndex({ kind: 1, who: 1, topic: 1, action: 1 }, { unique: true, name: 'kind_who_topic_action_unique' })
    await this.#kv().createIndex({ ns: 1, key: 1 }, { unique: true, name: 'ns_key_unique' })
    await this.#members().createIndex({ name: 1 }, { unique: true, name: 'name_unique' })
    await this.#audit().createIndex({ id: 1 }, { unique: true, name: 'id_unique' })
    await this.#audit().createIndex({ timestamp: 1 }, { name: 'timestamp' })
    // documents from before roles existed: their users and apps are administrators (toRole reads an
    // absent role the same way; this makes the stored documents say so)
    await this.#apps().updateMany({ role: { $exists: false } }, { $set: { role: PRE_ROLE } })
    await this.#users().updateMany({ role: { $exists: false } }, { $set: { role: PRE_ROLE } })
    await this.#alarmHistory().createIndex({ node: 1, name: 1, activatedAt: 1 }, { unique: true, name: 'node_name_activated_unique' })
  }

  /** Writes go through here: indexes must exist before the first write relies on them. */
  async #write<T> (op: () => Promise<T>): Promise<T> {
    await this.#ready()
    return await this.#run(op)
  }

  #apps (): Collection<AppDoc> { return this.#db.collection<AppDoc>('apps') }
  #users (): Collection<UserDoc> { return this.#db.collection<UserDoc>('users') }
  #banned (): Collection<BannedDoc> { return this.#db.collection<BannedDoc>('banned') }
  #acl (): Collection<AclDoc> { return this.#db.collection<AclDoc>('acl') }
  #kv (): Collection<KvDoc> { return this.#db.collection<KvDoc>('kv') }
  #members (): Collection<MemberDoc> { return this.#db.collection<MemberDoc>('members') }
  #audit (): Collection<AuditDoc> { return this.#db.collection<AuditDoc>('audit') }
  #alarmHistory (): Collection<AlarmHistoryDoc> { return this.#db.collection<AlarmHistoryDoc>('alarm_history') }

  /** insertOne that reports a duplicate key as false instead of an error */
  async #insert<D extends object> (coll: Collection<D>, doc: D): Promise<boolean> {
    return await this.#write(async () => {
      try {
        // insertOne adds _id to the object it is given; give it a copy
        await coll.insertOne({ ...doc } as Parameters<typeof coll.insertOne>[0])
        return true
      } catch (err) {
        if (isDuplicateKey(err)) return false
        throw err
      }
    })
  }

  #appRepo (): AppRepo {
    const byId = (appId: string): { app_id: string } => ({ app_id: String(appId) })
    const get = async (appId: string): Promise<AppRecord | null> => {
      const d = await this.#run(async () => await this.#apps().findOne(byId(appId), NO_ID))
      return d === null ? null : toApp(d)
    }
    return {
      list: async () => (await this.#run(async () => await this.#apps().find({}, NO_ID).sort({ app_id: 1 }).toArray())).map(toApp),
      get,
      insert: async (app) => await this.#insert(this.#apps(), appDoc(app)),
      update: async (appId, patch) => {
        const set = appSet(patch)
        // an empty $set is an error on the server; nothing to change means a plain read
        if (Object.keys(set).length === 0) return await get(appId)
        const d = await this.#write(async () =>
          await this.#apps().findOneAndUpdate(byId(appId), { $set: set }, { returnDocument: 'after' }))
        return d === null ? null : toApp(d)
      },
      delete: async (appId) =>
        (await this.#write(async () => await this.#apps().deleteOne(byId(appId)))).deletedCount === 1
    }
  }

  #userRepo (): UserRepo {
    const byName = (username: string): { username: string } => ({ username: String(username) })
    const get = async (username: string): Promise<UserRecord | null> => {
      const d = await this.#run(async () => await this.#users().findOne(byName(username), NO_ID))
      return d === null ? null : toUser(d)
    }
    return {
      list: async () => (await this.#run(async () => await this.#users().find({}, NO_ID).sort({ username: 1 }).toArray())).map(toUser),
      get,
      count: async () => await this.#run(async () => await this.#users().countDocuments({})),
      insert: async (user) => await this.#insert(this.#users(), userDoc(user)),
      update: async (username, patch) => {
        const set = userSet(patch)
        if (Object.keys(set).length === 0) return await get(username)
        const d = await this.#write(async () =>
          await this.#users().findOneAndUpdate(byName(username), { $set: set }, { returnDocument: 'after' }))
        return d === null ? null : toUser(d)
      },
      delete: async (username) =>
        (await this.#write(async () => await this.#users().deleteOne(byName(username)))).deletedCount === 1
    }
  }

  #alarmHistoryRepo (): AlarmHistoryRepo {
    const NEWEST = { deactivatedAt: -1, node: 1, name: 1, activatedAt: -1 } as const
    const toRecord = (d: AlarmHistoryDoc): AlarmHistoryRecord => ({
      node: d.node, name: d.name, severity: d.severity, title: d.title, message: d.message, activatedAt: d.activatedAt, deactivatedAt: d.deactivatedAt
    })
    return {
      list: async () =>
        (await this.#run(async () => await this.#alarmHistory().find({}, NO_ID).sort(NEWEST).toArray())).map(toRecord),
      add: async (e, keep) => {
        const doc = toRecord({ ...e, node: String(e.node), name: String(e.name), activatedAt: Number(e.activatedAt), deactivatedAt: Number(e.deactivatedAt) })
        await this.#write(async () => {
          // the unique index makes a retried write a no-op
          await this.#alarmHistory().updateOne({ node: doc.node, name: doc.name, activatedAt: doc.activatedAt }, { $setOnInsert: doc }, { upsert: true })
            .catch((err: unknown) => { if (!isDuplicateKey(err)) throw err })
          const beyond = await this.#alarmHistory().find({}, { projection: { _id: 1 } }).sort(NEWEST).skip(Math.max(0, Math.floor(keep))).toArray()
          if (beyond.length > 0) await this.#alarmHistory().deleteMany({ _id: { $in: beyond.map(d => d._id) } })
        })
      },
      clear: async () => (await this.#write(async () => await this.#alarmHistory().deleteMany({}))).deletedCount
    }
  }

  #bannedRepo (): BannedRepo {
    const byKey = (as: string, who: string): { as: string, who: string } => ({ as: String(as), who: String(who) })
    const replace = async (doc: BannedDoc): Promise<void> => {
      await this.#banned().replaceOne(byKey(doc.as, doc.who), { ...doc }, { upsert: true })
    }
    return {
      list: async () =>
        (await this.#run(async () => await this.#banned().find({}, NO_ID).sort({ as: 1, who: 1 }).toArray())).map(toBanned),
      get: async (as, who) => {
        const d = await this.#run(async () => await this.#banned().findOne(byKey(as, who), NO_ID))
        return d === null ? null : toBanned(d)
      },
      put: async (entry) => {
        const doc = bannedDoc(entry)
        await this.#write(async () => {
          try {
            await replace(doc)
          } catch (err) {
            // two concurrent upserts of a new key: the loser hits the unique index; now it exists, replace it
            if (!isDuplicateKey(err)) throw err
            await replace(doc)
          }
        })
      },
      delete: async (as, who) =>
        (await this.#write(async () => await this.#banned().deleteOne(byKey(as, who)))).deletedCount === 1,
      deleteExpired: async (nowSec) => {
        // one findOneAndDelete per entry: each returned entry is exactly one this call removed
        // ($lt on a number never matches null, so entries without expiry stay)
        const filter = { until: { $lt: Number(nowSec) } }
        const removed: BannedRecord[] = []
        await this.#write(async () => {
          for (;;) {
            const d = await this.#banned().findOneAndDelete(filter, { sort: { as: 1, who: 1 } })
            if (d === null) return
            removed.push(toBanned(d))
          }
        })
        return removed
      }
    }
  }

  #aclRepo (): AclRepo {
    const find = async (filter: Partial<AclDoc>): Promise<AclRecord[]> =>
      (await this.#run(async () => await this.#acl().find(filter, NO_ID).sort(ACL_ORDER).toArray())).map(toAcl)
    const upsertAll = async (docs: AclDoc[]): Promise<void> => {
      await this.#acl().bulkWrite(docs.map(d => ({ replaceOne: { filter: aclKey(d), replacement: { ...d }, upsert: true } })), { ordered: true })
    }
    return {
      list: async (kind) => await find(kind === undefined ? {} : { kind: String(kind) }),
      of: async (kind, who) => await find({ kind: String(kind), who: String(who) }),
      add: async (rules) => {
        const docs = rules.map(aclDoc)
        if (docs.length === 0) return
        await this.#write(async () => {
          // no multi-document transactions here (FerretDB has none): a batch that fails part-way
          // is undone from what the keys held before, so the batch lands whole or not at all
          const before = await this.#acl().find({ $or: docs.map(aclKey) }, NO_ID).toArray()
          try {
            try {
              await upsertAll(docs)
            } catch (err) {
              // two concurrent upserts of a new key: the loser hits the unique index; now it exists
              if (!isDuplicateKey(err)) throw err
              await upsertAll(docs)
            }
          } catch (err) {
            await this.#undoAcl(docs, before).catch(() => {})
            throw err
          }
        })
      },
      delete: async (kind, who, topic) =>
        (await this.#write(async () => await this.#acl().deleteMany({ kind: String(kind), who: String(who), topic: String(topic) }))).deletedCount
    }
  }

  /** puts back what the keys of `docs` held before a failed add: the earlier rule, or nothing */
  async #undoAcl (docs: AclDoc[], before: AclDoc[]): Promise<void> {
    const held = new Map(before.map(d => [JSON.stringify(aclKey(d)), d]))
    for (const d of docs) {
      const key = aclKey(d)
      const old = held.get(JSON.stringify(key))
      if (old === undefined) await this.#acl().deleteOne(key)
      else await this.#acl().replaceOne(key, aclDoc(toAcl(old)), { upsert: true })
    }
  }

  #memberRepo (): MemberRepo {
    const byName = (name: string): { name: string } => ({ name: String(name) })
    return {
      list: async () =>
        (await this.#run(async () => await this.#members().find({}, NO_ID).sort({ name: 1 }).toArray())).map(toMember),
      get: async (name) => {
        const d = await this.#run(async () => await this.#members().findOne(byName(name), NO_ID))
        return d === null ? null : toMember(d)
      },
      claim: async (m, staleBefore) => {
        const doc = memberDoc(m)
        // replaces only a free entry (ours, stopped or stale); when a live one holds the name the
        // filter misses and the upsert's insert hits the unique index: refused
        const free = {
          name: doc.name,
          $or: [{ instance: doc.instance }, { running: false }, { heartbeatAt: { $lt: Number(staleBefore) } }]
        }
        return await this.#write(async () => {
          try {
            await this.#members().replaceOne(free, { ...doc }, { upsert: true })
            return true
          } catch (err) {
            if (isDuplicateKey(err)) return false
            throw err
          }
        })
      },
      heartbeat: async (name, instance, at, running) => {
        const r = await this.#write(async () => await this.#members().updateOne(
          { name: String(name), instance: String(instance) },
          { $set: { heartbeatAt: Number(at), running: Boolean(running) } }))
        return r.matchedCount === 1
      },
      delete: async (name) =>
        (await this.#write(async () => await this.#members().deleteOne(byName(name)))).deletedCount === 1
    }
  }

  #auditRepo (): AuditRepo {
    return {
      append: async (records) => {
        if (records.length === 0) return
        // ordered insert of copies (insertMany adds _id to what it is given); an id already there is
        // a retried batch: the rest still goes in
        const docs = records.map(auditDoc)
        await this.#write(async () => {
          try {
            await this.#audit().insertMany(docs.map(d => ({ ...d })), { ordered: false })
          } catch (err) {
            const dupOnly = err instanceof MongoServerError && (err as MongoServerError & { writeErrors?: Array<{ code: number }> })
              .writeErrors?.every(e => e.code === DUPLICATE_KEY) === true
            if (!dupOnly && !isDuplicateKey(err)) throw err
          }
        })
      },
      list: async (filter, offset, limit) => {
        const q = auditQuery(filter)
        return await this.#run(async () => {
          const [count, docs] = await Promise.all([
            this.#audit().countDocuments(q),
            this.#audit().find(q, NO_ID).sort({ id: -1 }).skip(offset).limit(limit).toArray()
          ])
          return { count, items: docs.map(toAudit) }
        })
      },
      trim: async (max) => await this.#write(async () => {
        const [edge] = await this.#audit().find({}, { projection: { _id: 0, id: 1 } }).sort({ id: -1 }).skip(Math.max(0, max)).limit(1).toArray()
        if (edge === undefined) return 0
        return (await this.#audit().deleteMany({ id: { $lte: String(edge.id) } })).deletedCount
      })
    }
  }

  #kvRepo (): KvRepo {
    const byKey = (ns: string, key: string): { ns: string, key: string } => ({ ns: String(ns), key: String(key) })
    return {
      all: async (ns) => {
        const docs = await this.#run(async () => await this.#kv().find({ ns: String(ns) }, NO_ID).sort({ key: 1 }).toArray())
        // fromEntries defines own properties, so a key like "__proto__" stays a plain key
        return Object.fromEntries(docs.map((d) => [d.key, JSON.parse(d.value) as unknown]))
      },
      get: async (ns, key) => {
        const d = await this.#run(async () => await this.#kv().findOne(byKey(ns, key), NO_ID))
        return d === null ? undefined : JSON.parse(d.value) as unknown
      },
      set: async (ns, key, value) => {
        const json = toJson(value)
        await this.#write(async () => {
          const upsert = async (): Promise<void> => {
            await this.#kv().updateOne(byKey(ns, key), { $set: { value: json } }, { upsert: true })
          }
          try {
            await upsert()
          } catch (err) {
            // concurrent first writes of one key: retry once as a plain update
            if (!isDuplicateKey(err)) throw err
            await upsert()
          }
        })
      },
      delete: async (ns, key) =>
        (await this.#write(async () => await this.#kv().deleteOne(byKey(ns, key)))).deletedCount === 1
    }
  }
}
