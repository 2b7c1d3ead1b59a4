/**
 * The list parameters beyond `_page`/`_limit` (EMQX v4's names): filters, `_sort`, `_cursor`.
 * The validator has checked each key and its type; this turns them into the plain filters every
 * node applies to its own rows (cluster/list-filter.ts), and orders and pages the merged list.
 *
 * A cursor is the last row's sort key (the `_sort` field, then the list's documented order as
 * tie-breaker), not an offset: rows that come or go before it do not shift the next page.
 */
import { isIP } from 'node:net'
import { errors } from '../core/errors.js'
import type { ClientFilter, IpMatch, RouteFilter, SubscriptionFilter } from '../cluster/list-filter.js'
import { MAX_LIMIT, type Page } from './paging.js'

type Query = Record<string | symbol, unknown>

/** Set on the query by the router for `Accept: application/x-ndjson`: every row, no page (ndjson.ts). */
export const ALL_ROWS = Symbol('all rows')
type Scalar = string | number | boolean | null

/** How a list is ordered: the documented key fields, and the fields `_sort` may name. */
export interface ListOrder<T> {
  readonly order: ReadonlyArray<keyof T & string>
  readonly sortable: ReadonlyArray<keyof T & string>
  /** the names `fields=` may pick: the row schema's properties (rowFields) */
  readonly fields?: readonly string[]
}

const str = (v: unknown): string | undefined => v === undefined ? undefined : String(v)
const int = (v: unknown): number | undefined => v === undefined ? undefined : Number(v)
const bool = (v: unknown): boolean | undefined => v === undefined ? undefined : v === true || v === 'true'

/** Drops the keys left undefined (exactOptionalPropertyTypes, and a smaller RPC body). */
function defined<T extends object> (o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** Epoch seconds, or the API's datetime format (`YYYY-MM-DD HH:MM:SS`, server-local), to epoch ms. */
export function parseTime (name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  const s = String(v)
  if (/^\d{1,12}$/.test(s)) return Number(s) * 1000
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s)
  if (m !== null) {
    const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number]
    const t = new Date(y, mo - 1, d, h, mi, se)
    // Date rolls 2024-02-31 over to March: a date that does not exist is a bad value
    if (t.getFullYear() === y && t.getMonth() === mo - 1 && t.getDate() === d && t.getHours() === h) return t.getTime()
  }
  throw errors.badParam(`${name} must be epoch seconds or YYYY-MM-DD HH:MM:SS`)
}

/** `10.0.0.9`, `10.0.0.0/8`, `2001:db8::/32` */
export function parseIp (v: unknown): IpMatch | undefined {
  if (v === undefined) return undefined
  const [address = '', prefix, ...rest] = String(v).split('/')
  const version = isIP(address)
  const max = version === 6 ? 128 : 32
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN
  if (version === 0 || rest.length > 0 || !(bits >= 0 && bits <= max)) throw errors.badParam('ip_address must be an IP address or a CIDR block')
  return { address, prefix: bits, family: version === 6 ? 'ipv6' : 'ipv4' }
}

/** connections and sessions */
export function clientFilter (q: Query): ClientFilter {
  return defined<ClientFilter>({
    clientid: str(q.clientid),
    username: str(q.username),
    ip_address: parseIp(q.ip_address),
    conn_state: str(q.conn_state) as ClientFilter['conn_state'],
    proto_ver: int(q.proto_ver),
    clean_start: bool(q.clean_start),
    like_clientid: str(q._like_clientid),
    like_username: str(q._like_username),
    gte_created_at: parseTime('_gte_created_at', q._gte_created_at),
    lte_created_at: parseTime('_lte_created_at', q._lte_created_at),
    gte_connected_at: parseTime('_gte_connected_at', q._gte_connected_at),
    lte_connected_at: parseTime('_lte_connected_at', q._lte_connected_at),
    gte_mqueue_len: int(q._gte_mqueue_len)
  })
}

/** A concrete topic to match filters against: no wildcards, not empty. */
function concreteTopic (v: unknown): string | undefined {
  if (v === undefined) return undefined
  const t = String(v)
  if (t === '' || t.includes('+') || t.includes('#') || t.includes('\u0000')) throw errors.badTopic('_match_topic must be a topic name without wildcards')
  return t
}

/** A topic name of a path (`/mqtt/retainer/message/{topic}`): as a filter it matches that topic alone. */
export function topicName (t: string): string {
  if (t.includes('+') || t.includes('#') || t.includes('\u0000')) throw errors.badTopic('the topic must be a topic name without wildcards')
  return t
}

/** A topic filter: `#` and `+` whole levels only, `#` last [MQTT-4.7.1]; absent: every topic. */
export function retainedFilter (v: unknown): string {
  if (v === undefined) return '#'
  const f = String(v)
  const levels = f.split('/')
  const ok = !f.includes('\u0000') && levels.every((l, i) =>
    (l === '#' && i === levels.length - 1) || l === '+' || (!l.includes('#') && !l.includes('+')))
  if (!ok) throw errors.badTopic('_match_topic must be a topic filter (# last, + and # as whole levels)')
  return f
}

export function subscriptionFilter (q: Query): SubscriptionFilter {
  return defined<SubscriptionFilter>({
    clientid: str(q.clientid),
    topic: str(q.topic),
    qos: int(q.qos),
    share: str(q.share),
    match_topic: concreteTopic(q._match_topic)
  })
}

export function routeFilter (q: Query): RouteFilter {
  return defined<RouteFilter>({ match_topic: concreteTopic(q._match_topic) })
}

/** `_like_name` and the like: the rows whose field contains the substring (all rows without one). */
export function like<T> (rows: readonly T[], substring: unknown, field: (row: T) => string | undefined | null): readonly T[] {
  if (substring === undefined) return rows
  const sub = String(substring)
  return rows.filter(r => field(r)?.includes(sub) === true)
}

// ---- order, cursor, page ----

function cmpScalar (a: Scalar, b: Scalar): number {
  if (a === b) return 0
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : 1
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1
  // mixed types (never within one field of the spec's rows): any fixed order keeps the sort total
  const ta = a === null ? '' : typeof a
  const tb = b === null ? '' : typeof b
  return ta < tb ? -1 : ta > tb ? 1 : 0
}

interface Sort { spec: string, fields: string[], desc: boolean }

function parseSort<T> (v: unknown, o: ListOrder<T>): Sort {
  const s = str(v) ?? ''
  const field = s.startsWith('-') ? s.slice(1) : s
  if (s === '') return { spec: '', fields: [...o.order], desc: false }
  if (!(o.sortable as readonly string[]).includes(field)) throw errors.badParam(`_sort must be one of ${o.sortable.join(', ')}, optionally with a leading -`)
  return { spec: s, fields: [field, ...o.order.filter(f => f !== field)], desc: s.startsWith('-') }
}

const keyOf = (row: object, fields: string[]): Scalar[] =>
  fields.map(f => ((row as Record<string, unknown>)[f] ?? null) as Scalar)

function cmpKeys (a: Scalar[], b: Scalar[], desc: boolean): number {
  for (let i = 0; i < a.length; i++) {
    const c = cmpScalar(a[i] ?? null, b[i] ?? null)
    // `-field` reverses the sort field only; the tie-breakers stay ascending
    if (c !== 0) return i === 0 && desc ? -c : c
  }
  return 0
}

function encodeCursor (sort: Sort, key: Scalar[]): string {
  return Buffer.from(JSON.stringify({ s: sort.spec, k: key }), 'utf8').toString('base64url')
}

const badCursor = () => errors.badParam('_cursor is not a cursor of this list and _sort (take meta.cursor of the previous page)')

function decodeCursor (v: string, sort: Sort): Scalar[] {
  let c: unknown
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(v)) throw badCursor()
    c = JSON.parse(Buffer.from(v, 'base64url').toString('utf8'))
  } catch {
    throw badCursor()
  }
  const ok = typeof c === 'object' && c !== null && (c as { s?: unknown }).s === sort.spec &&
    Array.isArray((c as { k?: unknown }).k) && (c as { k: unknown[] }).k.length === sort.fields.length &&
    (c as { k: unknown[] }).k.every(x => x === null || ['string', 'number', 'boolean'].includes(typeof x))
  if (!ok) throw badCursor()
  return (c as { k: Scalar[] }).k
}

/** Whether the rows are already in key order (each node answers its rows sorted; the nodes come in name order). */
function inOrder (rows: readonly object[], fields: string[]): boolean {
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] as Record<string, unknown>
    const b = rows[i] as Record<string, unknown>
    for (const f of fields) {
      const c = cmpScalar((a[f] ?? null) as Scalar, (b[f] ?? null) as Scalar)
      if (c < 0) break
      if (c > 0) return false
    }
  }
  return true
}

/**
 * Lists already found in order, by their field list: a node answers the same array until its rows
 * change (local-node.ts caches it), so polling page 1 of a steady list checks the order once.
 */
const checked = new WeakMap<readonly object[], string>()
const sortedViews = new WeakMap<readonly object[], Map<string, Array<{ r: object, k: Scalar[] }>>>()

interface Ordered<T> { n: number, row: (i: number) => T, key: (i: number) => Scalar[] }

/** The rows in key order, and each row's key on demand (computed only for the rows a page or cursor touches). */
function ordered<T extends object> (rows: readonly T[], sort: Sort): Ordered<T> {
  // without `_sort` the rows arrive in the documented order: one cheap check (once per list) instead
  // of keying and sorting every row, so a first page of 15,000 connections costs no sort
  const tag = sort.fields.join()
  if (sort.spec === '' && (checked.get(rows) === tag || inOrder(rows, sort.fields))) {
    checked.set(rows, tag)
    return { n: rows.length, row: i => rows[i]!, key: i => keyOf(rows[i]!, sort.fields) }
  }
  // a sorted view is kept beside the list it came from (at most one per sortable field and direction)
  let views = sortedViews.get(rows)
  let keyed = views?.get(sort.spec)
  if (keyed === undefined) {
    keyed = rows.map(r => ({ r, k: keyOf(r, sort.fields) }))
    keyed.sort((a, b) => cmpKeys(a.k, b.k, sort.desc))
    if (views === undefined) sortedViews.set(rows, views = new Map())
    views.set(sort.spec, keyed)
  }
  const view = keyed
  return { n: view.length, row: i => view[i]!.r as T, key: i => view[i]!.k }
}

/** A list the seed answers as a plain array (apps, users): all of it, in `_sort`'s order or the documented one. */
export function sortedList<T extends object> (rows: readonly T[], q: Query, o: ListOrder<T>): T[] {
  const list = ordered(rows, parseSort(q._sort, o))
  return Array.from({ length: list.n }, (_, i) => list.row(i))
}

/**
 * Orders the merged rows (by `_sort`, then the list's documented order), then pages them by
 * `_cursor` or by `_page`. `meta.hasnext` is on every page; `meta.cursor` whenever there is a next page.
 */
export function listPage<T extends object> (rows: readonly T[], q: Query, o: ListOrder<T>): Page<T> {
  const sort = parseSort(q._sort, o)
  const limit = Math.min(int(q._limit) ?? MAX_LIMIT, MAX_LIMIT)
  const pick = fieldsOf(q.fields, o)
  let start: number
  let page: number
  // checked before any work on the rows
  const after = q._cursor !== undefined ? cursorOf(q, sort) : undefined
  const list = ordered(rows, sort)
  const n = list.n
  if (after !== undefined) {
    // the first row after the cursor's key: binary search, as the rows are in key order
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cmpKeys(list.key(mid), after, sort.desc) <= 0) lo = mid + 1
      else hi = mid
    }
    start = lo
    page = Math.floor(start / limit) + 1
  } else {
    page = int(q._page) ?? 1
    start = (page - 1) * limit
  }
  const end = q[ALL_ROWS] === true ? n : start + limit
  const slice: T[] = []
  for (let i = start; i < Math.min(end, n); i++) slice.push(list.row(i))
  const hasnext = start + slice.length < n && slice.length > 0
  const cursor = hasnext ? { cursor: encodeCursor(sort, list.key(start + slice.length - 1)) } : {}
  return {
    items: pick === undefined ? slice : slice.map(pick),
    meta: { count: n, limit, page, hasnext, ...cursor }
  }
}

function cursorOf (q: Query, sort: Sort): Scalar[] {
  // the validator fills in `_page`'s default 1, so only a page beyond it contradicts the cursor
  if ((int(q._page) ?? 1) !== 1) throw errors.badParam('_cursor and _page cannot be combined')
  return decodeCursor(String(q._cursor), sort)
}

/**
 * `fields=a,b`: each row with only those fields, in the row schema's order. The names a list accepts
 * are its row schema's properties in the spec (ListOrder.fields), so a field the spec adds is
 * selectable at once; another name is a 400.
 */
function fieldsOf<T extends object> (v: unknown, o: ListOrder<T>): ((row: T) => T) | undefined {
  if (v === undefined) return undefined
  const known = o.fields ?? []
  const names = String(v).split(',')
  const bad = names.filter(f => !known.includes(f))
  if (bad.length > 0 || names.length === 0) throw errors.badParam(`fields: unknown field ${bad.join(', ')}; one or more of ${known.join(', ')}, comma-separated`)
  // in the schema's order, whatever the order asked; a field the row lacks (an optional one) stays absent
  const keys = known.filter(k => names.includes(k))
  return row => {
    const out: Record<string, unknown> = {}
    for (const k of keys) if ((row as Record<string, unknown>)[k] !== undefined) out[k] = (row as Record<string, unknown>)[k]
    return out as T
  }
}

const QUEUE: Sort = { spec: 'queue', fields: ['msgid'], desc: false }

/**
 * A FIFO queue's page: the rows in queue order, the cursor the last row's id. A queue only loses
 * rows at its head, so when the cursor's row is gone every row before it is gone too and the next
 * page starts at the head: no row repeats or is skipped while the queue drains.
 */
export function queuePage<T extends object> (rows: readonly T[], q: Query, id: (row: T) => string): Page<T> {
  const limit = Math.min(int(q._limit) ?? MAX_LIMIT, MAX_LIMIT)
  let start: number
  let page: number
  if (q._cursor !== undefined) {
    const [after] = cursorOf(q, QUEUE)
    const at = rows.findIndex(r => id(r) === after)
    start = at + 1
    page = Math.floor(start / limit) + 1
  } else {
    page = int(q._page) ?? 1
    start = (page - 1) * limit
  }
  const slice = start >= rows.length ? [] : rows.slice(start, start + limit)
  const hasnext = start + slice.length < rows.length && slice.length > 0
  const last = slice[slice.length - 1]
  return {
    items: slice,
    meta: { count: rows.length, limit, page, hasnext, ...(hasnext && last !== undefined ? { cursor: encodeCursor(QUEUE, [id(last)]) } : {}) }
  }
}
