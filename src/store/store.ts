/**
 * The one interface for everything the server keeps (apps, dashboard users, banned entries, ACL
 * rules, key/value settings such as hot configs, plugin states and plugin configs, cluster members and
 * the alarm history).
 * Backends: SqliteStore (embedded default, DATA_DIR) and MongoStore (MONGODB_URL).
 * Every backend passes test/store/store.suite.ts.
 *
 * Records are not wire types: handlers map them to the spec's shapes.
 * Every write is atomic (whole or absent) and acknowledged before the promise resolves.
 */

import type { Role } from '../core/roles.js'

export type BannedKind = 'client_id' | 'username' | 'ip_address'

export interface AppRecord {
  app_id: string
  name: string
  desc: string
  status: boolean
  /** epoch seconds; null = never expires */
  expired: number | null
  /** salted KDF hash of the secret; the secret itself is never stored */
  secretHash: string
  /** rows written before roles existed read as 'administrator' (both backends migrate them at init) */
  role: Role
}

export interface UserRecord {
  username: string
  tags: string
  /** salted KDF hash of the password */
  passwordHash: string
  /** rows written before roles existed read as 'administrator' */
  role: Role
}

export interface BannedRecord {
  who: string
  as: BannedKind
  reason: string
  desc: string
  by: string
  /** epoch seconds; null = no expiry */
  until: number | null
  /** epoch milliseconds when the entry was written */
  createdAt: number
}

/** Whom an ACL rule is for: a client id, a user name, an IP range, or every client (`all`). */
export type AclKind = 'clientid' | 'username' | 'ipaddress' | 'all'
export type AclAction = 'pub' | 'sub' | 'pubsub'
export type AclAccess = 'allow' | 'deny'

export interface AclRecord {
  kind: AclKind
  /** the client id, the user name, the network in CIDR form (`10.0.0.0/8`), or '' for `all` */
  who: string
  /** a topic filter, possibly with %u / %c levels, or `eq <filter>` */
  topic: string
  action: AclAction
  access: AclAccess
  /** epoch microseconds, strictly increasing per node: of one target's rules the newest applies first */
  addedAt: number
}

export interface AppPatch {
  name?: string
  desc?: string
  status?: boolean
  expired?: number | null
  role?: Role
}

export interface UserPatch {
  tags?: string
  passwordHash?: string
  role?: Role
}

export interface AppRepo {
  /** sorted by app_id */
  list (): Promise<AppRecord[]>
  get (appId: string): Promise<AppRecord | null>
  /** false when an app with that id exists (nothing written) */
  insert (app: AppRecord): Promise<boolean>
  /** only the fields present in the patch change; null when absent */
  update (appId: string, patch: AppPatch): Promise<AppRecord | null>
  /** false when absent */
  delete (appId: string): Promise<boolean>
}

export interface UserRepo {
  /** sorted by username */
  list (): Promise<UserRecord[]>
  get (username: string): Promise<UserRecord | null>
  count (): Promise<number>
  insert (user: UserRecord): Promise<boolean>
  update (username: string, patch: UserPatch): Promise<UserRecord | null>
  delete (username: string): Promise<boolean>
}

export interface BannedRepo {
  /** sorted by (as, who) so pages are stable */
  list (): Promise<BannedRecord[]>
  get (as: BannedKind, who: string): Promise<BannedRecord | null>
  /** insert or replace the entry with the same (as, who) */
  put (entry: BannedRecord): Promise<void>
  delete (as: BannedKind, who: string): Promise<boolean>
  /** removes entries whose `until` is before nowSec; returns them */
  deleteExpired (nowSec: number): Promise<BannedRecord[]>
}

/** One audited API call or failed login (src/services/audit.ts). */
export interface AuditRecord {
  /** unique, and in time order when compared as strings (newest = greatest) */
  id: string
  /** epoch ms */
  timestamp: number
  node: string
  event: 'request' | 'login_failed'
  actor: string
  role: Role | 'none'
  sourceIp: string
  method: string
  operation: string
  pathParams: Record<string, string>
  /** the redacted request body, any JSON value (null when there was none) */
  body: unknown
  status: number
}

/** Exact matches and an inclusive time range; absent fields do not filter. */
export interface AuditFilter {
  actor?: string
  operation?: string
  status?: number
  /** epoch ms, inclusive */
  fromMs?: number
  toMs?: number
}

export interface AuditRepo {
  /** all or nothing */
  append (records: readonly AuditRecord[]): Promise<void>
  /** newest first (by id); `count` is the number of matching records */
  list (filter: AuditFilter, offset: number, limit: number): Promise<{ count: number, items: AuditRecord[] }>
  /** keeps the `max` newest records and deletes the rest; returns how many went */
  trim (max: number): Promise<number>
}

export interface AclRepo {
  /** the rules of one kind (every rule when absent), sorted by (kind, who), then newest first, then topic and action */
  list (kind?: AclKind): Promise<AclRecord[]>
  /** the rules of one target, newest first (then topic, action) */
  of (kind: AclKind, who: string): Promise<AclRecord[]>
  /**
   * Adds the rules, all or none; each replaces the rule with the same (kind, who, topic, action).
   * A later rule in `rules` replaces an earlier one with the same key.
   */
  add (rules: readonly AclRecord[]): Promise<void>
  /** removes the target's rules on `topic` (every action); how many were removed */
  delete (kind: AclKind, who: string, topic: string): Promise<number>
}

/** Namespaced JSON values: hot configs, plugin states, plugin configs. */
export interface KvRepo {
  all (ns: string): Promise<Record<string, unknown>>
  get (ns: string, key: string): Promise<unknown>
  set (ns: string, key: string, value: unknown): Promise<void>
  delete (ns: string, key: string): Promise<boolean>
}

/** A cluster node as it registered itself (src/cluster/membership.ts). */
export interface MemberRecord {
  /** the node name (NODE_NAME), unique among live members */
  name: string
  /** random per process start: tells a running node from an earlier run under the same name */
  instance: string
  /** where peers reach its API (API_ADVERTISE_URL) */
  apiUrl: string
  version: string
  /** the runtime release, shown while the node is stopped */
  otpRelease: string
  /** epoch ms */
  startedAt: number
  /** epoch ms of the last heartbeat */
  heartbeatAt: number
  /** false once the node stopped cleanly */
  running: boolean
}

export interface MemberRepo {
  /** sorted by name */
  list (): Promise<MemberRecord[]>
  get (name: string): Promise<MemberRecord | null>
  /**
   * Writes `m` (insert or replace by name) unless another instance holds the name, running, with a
   * heartbeat at or after `staleBefore`: then false and nothing written. Atomic: of two concurrent
   * claims of a free name at most one wins.
   */
  claim (m: MemberRecord, staleBefore: number): Promise<boolean>
  /** sets heartbeatAt and running of (name, instance); false when that instance no longer holds the name */
  heartbeat (name: string, instance: string, at: number, running: boolean): Promise<boolean>
  /** false when absent */
  delete (name: string): Promise<boolean>
}

/** An alarm that was raised and cleared (GET /alarms/deactivated); the activated ones live in each node. */
export interface AlarmHistoryRecord {
  /** the node that raised it */
  node: string
  /** the alarm's id (high_memory, store_unavailable, ...) */
  name: string
  severity: string
  title: string
  message: string
  /** epoch ms; with node and name it identifies the entry (raised again later is a new entry) */
  activatedAt: number
  /** epoch ms */
  deactivatedAt: number
}

export interface AlarmHistoryRepo {
  /** newest deactivation first; ties by node, name, then newest activation */
  list (): Promise<AlarmHistoryRecord[]>
  /**
   * Adds the entry unless one with its (node, name, activatedAt) exists (a retried write adds it
   * once), then keeps only the `keep` newest entries.
   */
  add (entry: AlarmHistoryRecord, keep: number): Promise<void>
  /** removes every entry; returns how many there were */
  clear (): Promise<number>
}

export interface Store {
  readonly kind: 'sqlite' | 'mongo'
  readonly apps: AppRepo
  readonly users: UserRepo
  readonly banned: BannedRepo
  readonly acl: AclRepo
  readonly kv: KvRepo
  /** cluster membership (only a clustered node writes it) */
  readonly members: MemberRepo
  /** the audit log, shared by every node of a cluster */
  readonly audit: AuditRepo
  /** deactivated alarms, shared by the nodes of a cluster */
  readonly alarmHistory: AlarmHistoryRepo
  /** opens the backend and creates tables/collections and indexes */
  init (): Promise<void>
  /** resolves when the backend answers; rejects with StoreUnavailableError otherwise */
  ping (): Promise<void>
  close (): Promise<void>
}

/** Thrown by a backend when it cannot be reached in time; the API maps it to 503 store_unavailable. */
export class StoreUnavailableError extends Error {
  constructor (cause?: unknown) {
    super('store_unavailable', { cause })
    this.name = 'StoreUnavailableError'
  }
}
