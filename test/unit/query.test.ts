// listPage and the parameter parsers of src/api/query.ts, on plain rows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ALL_ROWS, clientFilter, listPage, parseIp, parseTime, queuePage, subscriptionFilter, type ListOrder } from '../../src/api/query.js'
import { ApiError } from '../../src/core/errors.js'

interface Row { node: string, id: string, n: number }
const ORDER: ListOrder<Row> = { order: ['node', 'id'], sortable: ['id', 'n', 'node'] }
const rows: Row[] = Array.from({ length: 25 }, (_, i) => ({ node: i < 10 ? 'a' : 'b', id: `r${String(i).padStart(2, '0')}`, n: i % 4 }))

const bad = (code: number) => (err: unknown): boolean => err instanceof ApiError && err.status === 400 && err.code === code

test('pages as before: count is the total, a page past the end is empty, limit is capped at 10000; hasnext on every page', () => {
  const p3 = listPage(rows, { _page: 3, _limit: 10 }, ORDER)
  assert.deepEqual(p3.items.map(r => r.id), ['r20', 'r21', 'r22', 'r23', 'r24'])
  assert.deepEqual(p3.meta, { count: 25, limit: 10, page: 3, hasnext: false })
  assert.deepEqual(listPage(rows, { _page: 4, _limit: 10 }, ORDER).items, [])
  assert.equal(listPage(rows, { _limit: 50000 }, ORDER).meta.limit, 10000)
  assert.deepEqual(listPage(rows, {}, ORDER).meta, { count: 25, limit: 10000, page: 1, hasnext: false })
  assert.equal(listPage(rows, { _page: 2, _limit: 10 }, ORDER).meta.hasnext, true)
})

test('a cursor walk visits every row once, in the sort order, for ascending and descending sorts', () => {
  for (const sort of [undefined, 'id', '-id', 'n', '-n', '-node']) {
    const seen: Row[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const p = listPage(rows, { _limit: 4, ...(sort ? { _sort: sort } : {}), ...(cursor ? { _cursor: cursor } : {}) }, ORDER)
      seen.push(...p.items)
      cursor = p.meta.cursor
      assert.equal(p.meta.hasnext, cursor !== undefined)
      pages++
    } while (cursor !== undefined)
    assert.equal(pages, 7, String(sort))
    const all = listPage(rows, sort ? { _sort: sort } : {}, ORDER).items
    assert.deepEqual(seen, all, String(sort))
    assert.equal(new Set(seen.map(r => r.id)).size, 25)
  }
  // ties on n are broken by the documented order (node, id)
  assert.deepEqual(listPage(rows, { _sort: '-n', _limit: 3 }, ORDER).items.map(r => r.id), ['r03', 'r07', 'r11'])
})

test('a cursor continues after its row even when rows before or at it are gone', () => {
  const p1 = listPage(rows, { _limit: 5 }, ORDER)
  const fewer = rows.filter(r => r.id !== 'r04' && r.id !== 'r01')
  assert.deepEqual(listPage(fewer, { _limit: 2, _cursor: p1.meta.cursor }, ORDER).items.map(r => r.id), ['r05', 'r06'])
})

test('bad cursors, sorts and a cursor with a page beyond 1 are 400 (108)', () => {
  const c = listPage(rows, { _limit: 5, _sort: 'n' }, ORDER).meta.cursor
  assert.throws(() => listPage(rows, { _cursor: c }, ORDER), bad(108))
  assert.throws(() => listPage(rows, { _cursor: c, _sort: 'n', _page: 2 }, ORDER), bad(108))
  assert.throws(() => listPage(rows, { _cursor: 'not a cursor!' }, ORDER), bad(108))
  assert.throws(() => listPage(rows, { _cursor: Buffer.from('{"s":"","k":[1]}').toString('base64url') }, ORDER), bad(108))
  assert.throws(() => listPage(rows, { _cursor: Buffer.from('{"s":"","k":[{},"x"]}').toString('base64url') }, ORDER), bad(108))
  assert.throws(() => listPage(rows, { _sort: 'secret' }, ORDER), bad(108))
  assert.doesNotThrow(() => listPage(rows, { _cursor: c, _sort: 'n', _page: 1 }, ORDER))
})

test('ALL_ROWS (the NDJSON stream) takes every row after the cursor, ignoring the limit', () => {
  assert.equal(listPage(rows, { _limit: 2, [ALL_ROWS]: true }, ORDER).items.length, 25)
  const c = listPage(rows, { _limit: 20 }, ORDER).meta.cursor
  assert.equal(listPage(rows, { _limit: 2, _cursor: c, [ALL_ROWS]: true }, ORDER).items.length, 5)
})

test('times: epoch seconds or the API datetime (server-local); impossible dates are refused', () => {
  assert.equal(parseTime('t', '1700000000'), 1700000000 * 1000)
  assert.equal(parseTime('t', '2018-09-14 10:23:04'), new Date(2018, 8, 14, 10, 23, 4).getTime())
  assert.equal(parseTime('t', undefined), undefined)
  for (const v of ['2018-02-31 10:00:00', '2018-09-14T10:23:04', 'now', '-5', '1.5']) assert.throws(() => parseTime('t', v), bad(108), v)
})

test('addresses and CIDR blocks, v4 and v6', () => {
  assert.deepEqual(parseIp('10.0.0.9'), { address: '10.0.0.9', prefix: 32, family: 'ipv4' })
  assert.deepEqual(parseIp('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' })
  assert.deepEqual(parseIp('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' })
  for (const v of ['10.0.0.0/33', '10.0.0', '::1/129', '10.0.0.0/8/1', 'host', '10.0.0.0/']) assert.throws(() => parseIp(v), bad(108), v)
})

test('filters keep only the keys given; _match_topic must be a concrete topic (115)', () => {
  assert.deepEqual(clientFilter({ _like_clientid: 'x', clean_start: 'false', proto_ver: '4' }), { like_clientid: 'x', clean_start: false, proto_ver: 4 })
  assert.deepEqual(clientFilter({}), {})
  assert.deepEqual(subscriptionFilter({ _match_topic: 'a/b', qos: 1 }), { match_topic: 'a/b', qos: 1 })
  for (const t of ['a/+', '#', 'a/#']) assert.throws(() => subscriptionFilter({ _match_topic: t }), bad(115), t)
})

test('without _sort, rows already in the documented order are paged as they are; rows out of order are still sorted', () => {
  // in order: the very row objects, no copy (the fast path), and the same pages a sort gives
  const inOrder = listPage(rows, { _limit: 5, _page: 2 }, ORDER)
  assert.equal(inOrder.items[0], rows[5])
  assert.deepEqual(inOrder.items.map(r => r.id), ['r05', 'r06', 'r07', 'r08', 'r09'])
  // a merge of nodes that is not in order (routes: topic then node) is sorted, cursor included
  const shuffled = [...rows].reverse()
  assert.deepEqual(listPage(shuffled, { _limit: 5, _page: 2 }, ORDER).items.map(r => r.id), ['r05', 'r06', 'r07', 'r08', 'r09'])
  const first = listPage(shuffled, { _limit: 5 }, ORDER)
  assert.deepEqual(listPage(shuffled, { _limit: 5, _cursor: first.meta.cursor }, ORDER).items.map(r => r.id), ['r05', 'r06', 'r07', 'r08', 'r09'])
  // ties broken by later key fields count as order too
  const tied = [{ node: 'a', id: 'x2', n: 0 }, { node: 'a', id: 'x1', n: 0 }]
  assert.deepEqual(listPage(tied, {}, ORDER).items.map(r => r.id), ['x1', 'x2'])
})

test('fields picks the named fields in the row order; a name the list does not have is a 400 (108)', () => {
  const withFields: ListOrder<Row> = { ...ORDER, fields: ['node', 'id', 'n'] }
  assert.deepEqual(listPage(rows, { _limit: 2, fields: 'n,id' }, withFields).items, [{ id: 'r00', n: 0 }, { id: 'r01', n: 1 }])
  // the cursor still comes from the whole row
  const p = listPage(rows, { _limit: 2, fields: 'n', _sort: '-n' }, withFields)
  assert.deepEqual(listPage(rows, { _limit: 2, fields: 'id', _sort: '-n', _cursor: p.meta.cursor }, withFields).items.map(r => r.id), ['r11', 'r15'])
  assert.throws(() => listPage(rows, { fields: 'id,zzz' }, withFields), bad(108))
  assert.throws(() => listPage(rows, { fields: 'id' }, ORDER), bad(108))
})

test('queuePage: queue order; a cursor whose row was delivered starts at the head, repeating and skipping nothing', () => {
  const q = ['m1', 'm2', 'm3', 'm4', 'm5'].map(msgid => ({ msgid }))
  const p1 = queuePage(q, { _limit: 2 }, m => m.msgid)
  assert.deepEqual(p1.items.map(m => m.msgid), ['m1', 'm2'])
  assert.equal(p1.meta.hasnext, true)
  assert.deepEqual(queuePage(q, { _limit: 2, _cursor: p1.meta.cursor }, m => m.msgid).items.map(m => m.msgid), ['m3', 'm4'])
  // m1..m3 delivered meanwhile, m6 queued: the page after m2 is what is left
  const later = ['m4', 'm5', 'm6'].map(msgid => ({ msgid }))
  assert.deepEqual(queuePage(later, { _limit: 2, _cursor: p1.meta.cursor }, m => m.msgid).items.map(m => m.msgid), ['m4', 'm5'])
  // a cursor of another list is refused
  const other = listPage(rows, { _limit: 2 }, ORDER)
  assert.throws(() => queuePage(q, { _cursor: other.meta.cursor }, m => m.msgid), bad(108))
})
