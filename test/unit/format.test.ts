import { test } from 'node:test'
import assert from 'node:assert/strict'
import { datetime, kmg, uptime } from '../../src/core/format.js'

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
