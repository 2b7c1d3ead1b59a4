// GET /alarms/activated and /alarms/deactivated (EMQX v4), POST to deactivate by name, DELETE to
// clear the history; on a real node, and with its MongoDB going away and coming back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'
import { MONGO, behindProxy } from '../store-proxy.js'

const DATETIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/
const history = async (n: TestNode): Promise<any[]> => {
  const r = await n.api('GET', '/alarms/deactivated')
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body
}
const names = (groups: any[]): string[] => groups.flatMap(g => g.alarms.map((a: any) => a.name))

test('activated alarms carry their times; a cleared one moves to the history; deactivate by name; clear the history', async (t) => {
  const n = await startTestNode(t, {}, { node: { alarmCheckMs: 50 } })
  const active = (await n.api('GET', '/alarms/activated')).body
  assert.equal(active.length, 1)
  assert.equal(active[0].node, n.nodeName)
  const admin = active[0].alarms.find((a: any) => a.name === 'default_admin_password')
  assert.equal(admin.severity, 'warning')
  assert.match(admin.activate_at, DATETIME)
  assert.ok(Number.isInteger(admin.duration) && admin.duration >= 0)
  assert.equal(admin.deactivate_at, undefined)
  assert.deepEqual(await history(n), [])

  // the server raises and clears high_memory by itself: the clear lands in the history with both times
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'sysmon.memory_high_watermark', value: '0.0001' } })).status, 200)
  await eventually(async () => names((await n.api('GET', '/alarms/activated')).body).includes('high_memory'))
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'sysmon.memory_high_watermark', value: '100%' } })).status, 200)
  await eventually(async () => names(await history(n)).includes('high_memory'))
  const [entry] = (await history(n))[0].alarms
  assert.equal(entry.name, 'high_memory')
  assert.match(entry.activate_at, DATETIME)
  assert.match(entry.deactivate_at, DATETIME)
  assert.ok(entry.activate_at <= entry.deactivate_at && entry.duration >= 0)
  assert.ok(!names((await n.api('GET', '/alarms/activated')).body).includes('high_memory'))

  // deactivated by hand: at once in the history, newest first; the seed's /alarms no longer has it
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 'default_admin_password' } })).body, 'ok')
  assert.deepEqual(names(await history(n)), ['default_admin_password', 'high_memory'])
  assert.deepEqual((await n.api('GET', `/alarms/${n.nodeName}`)).body, [])
  const again = await n.api('POST', '/alarms/deactivated', { body: { name: 'default_admin_password' } })
  assert.deepEqual([again.status, again.body], [404, { message: 'alarm_not_active', code: 102 }])
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 'high_memory', node: 'nobody@127.0.0.1' } })).status, 404)
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: {} })).status, 400)
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 7 } })).status, 400)
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 'x', extra: 1 } })).status, 400)
  assert.equal((await n.api('GET', '/alarms/deactivated', { auth: null })).status, 401)

  assert.equal((await n.api('DELETE', '/alarms/deactivated')).body, 'ok')
  assert.deepEqual(await history(n), [])
  // the seed's per-node list is still reached by a node name
  assert.equal((await n.api('GET', `/alarms/${n.nodeName}`)).status, 200)
})

test('MongoDB away: the history answers 503, store_unavailable is active, a clear waits; back: both clears are in the history', { skip: MONGO ? false : 'MONGODB_TEST_URL not set', timeout: 120000 }, async (t) => {
  const { proxy, n } = await behindProxy(t, 'alarmhist')
  assert.deepEqual(await history(n), [])
  await proxy.cut()
  await eventually(async () => names((await n.api('GET', '/alarms/activated')).body).includes('store_unavailable'), 15000)
  const down = await n.api('GET', '/alarms/deactivated')
  assert.deepEqual([down.status, down.body], [503, { message: 'store_unavailable', code: 102 }])
  assert.equal((await n.api('DELETE', '/alarms/deactivated')).status, 503)
  // cleared while the store is away: kept in order and written when it is back, not lost
  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 'default_admin_password' } })).status, 200)
  await proxy.open()
  // cleared once the store answers; the clear, seen when it was back, is written then
  await eventually(async () => names((await n.api('GET', '/alarms/deactivated')).body ?? []).includes('store_unavailable'), 30000)
  const entries = (await history(n))[0].alarms
  assert.deepEqual(entries.map((a: any) => [a.name, a.severity]), [['store_unavailable', 'critical'], ['default_admin_password', 'warning']])
  assert.ok(entries[0].duration > 0)
})
