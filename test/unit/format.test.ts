import { test } from 'node:test'
import assert from 'node:assert/strict'
import { datetime, kmg, uptime } from '../../src/core/format.js'
import { paginate } from '../../src/api/paging.js'

test('uptime reads like EMQ X (no space after "days,")', () => {
  assert.equal(uptime(11), '11 seconds')
  assert.equal(uptime(65), '1 minutes, 5 seconds')
  assert.equal(uptime(3605), '1 hours, 0 minutes, 5 seconds')
  assert.equal(uptime(3 * 86400 + 18 * 3600 + 25 * 60 + 11), '3 days,18 hours, 25 minutes, 11 seconds')
})

test('kmg is 1024-based with a strict >', () => {
  assert.equal(kmg(1024), '1024')
  assert.equal(kmg(1025), '1.00K')
  assert.equal(kmg(81211392), '77.45M')
  assert.equal(kmg(3 * 1024 ** 3), '3.00G')
})

test('datetime is local YYYY-MM-DD HH:MM:SS', () => {
  const d = new Date(2018, 8, 14, 10, 23, 4)
  assert.equal(datetime(d.getTime()), '2018-09-14 10:23:04')
})

test('paginate: count is the total, a page past the end is empty, limit is capped at 10000', () => {
  const rows = Array.from({ length: 25 }, (_, i) => i)
  assert.deepEqual(paginate(rows, { _page: 3, _limit: 10 }), { items: [20, 21, 22, 23, 24], meta: { count: 25, limit: 10, page: 3, hasnext: false } })
  assert.deepEqual(paginate(rows, { _page: 4, _limit: 10 }).items, [])
  assert.equal(paginate(rows, { _limit: 50000 }).meta.limit, 10000)
  assert.deepEqual(paginate(rows, {}).meta, { count: 25, limit: 10000, page: 1, hasnext: false })
  assert.equal(paginate(rows, { _page: 2, _limit: 10 }).meta.hasnext, true)
  assert.equal(paginate(rows, { _page: 4, _limit: 10 }).meta.hasnext, false)
})

test('paginate: a mapper formats the rows of the page only', () => {
  const rows = Array.from({ length: 25 }, (_, i) => i)
  const seen: number[] = []
  const page = paginate(rows, { _page: 2, _limit: 10 }, x => { seen.push(x); return `#${x}` })
  assert.deepEqual(page.items, ['#10', '#11', '#12', '#13', '#14', '#15', '#16', '#17', '#18', '#19'])
  assert.deepEqual(seen, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
  assert.deepEqual(page.meta, { count: 25, limit: 10, page: 2, hasnext: true })
})
