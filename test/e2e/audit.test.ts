// The audit log (issue 17): every POST, PUT and DELETE and every failed login, with actor, role,
// source address, operation, path parameters, the redacted body and the status; GET /audit's
// filters and paging; the size bound (audit.max_records).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SQLITE_FILE } from '../../src/store/sqlite.js'
import { startTestNode, testStore, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

interface Entry {
  time: string,
  timestamp: number,
  node: string,
  event: string,
  actor: string,
  role: string,
  source_ip: string,
  method: string,
  operation: string,
  path_params: Record<string, string>,
  body: any,
  status: number
}

/** The entries once `n` of them match (records are written just after each answer). */
async function entries (node: TestNode, query: string, n: number): Promise<Entry[]> {
  return await eventually(async () => {
    const r = await node.api('GET', `/audit${query}`)
    assert.equal(r.status, 200)
    return r.body.items.length >= n ? r.body.items as Entry[] : null
  })
}

test('each kind of mutation is recorded with actor, role, address, operation, path parameters, redacted body and status', async (t) => {
  const n = await startTestNode(t)
  const before = Date.now()
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'ops-password', tags: 't', role: 'viewer' } })).status, 200)
  assert.equal((await n.api('PUT', '/users/ops', { body: { tags: 'u' } })).status, 200)
  assert.equal((await n.api('PUT', '/change_pwd/ops', { body: { old_pwd: 'ops-password', new_pwd: 'newer-password' } })).status, 200)
  const app = await n.api('POST', '/apps', { body: { app_id: 'ci', secret: 'a-chosen-secret', role: 'publisher' } })
  assert.equal(app.status, 200)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_auth_username`, { body: { 'auth.user.1.username': 'dev', 'auth.user.1.password': 'dev-password' } })).status, 200)
  assert.equal((await n.api('DELETE', '/users/ops')).status, 200)
  assert.equal((await n.api('DELETE', '/users/ops')).status, 404)
  assert.equal((await n.api('POST', '/mqtt/publish', { auth: { user: 'ci', pass: 'a-chosen-secret' }, body: { topic: 'a/b', payload: 'hi' } })).status, 200)
  // reads are not recorded
  assert.equal((await n.api('GET', '/users')).status, 200)

  const got = await entries(n, '', 8)
  assert.equal(got.length, 8)
  const summary = got.map(e => [e.method, e.operation, e.status, e.actor, e.role, e.path_params])
  assert.deepEqual(summary, [
    ['POST', 'mqtt_publish', 200, 'ci', 'publisher', {}],
    ['DELETE', 'delete_user', 404, 'admin', 'administrator', { name: 'ops' }],
    ['DELETE', 'delete_user', 200, 'admin', 'administrator', { name: 'ops' }],
    ['PUT', 'update_plugin_configs', 200, 'admin', 'administrator', { node: n.nodeName, plugin: 'emqx_auth_username' }],
    ['POST', 'add_app', 200, 'admin', 'administrator', {}],
    ['PUT', 'change_pwd', 200, 'admin', 'administrator', { username: 'ops' }],
    ['PUT', 'update_user', 200, 'admin', 'administrator', { name: 'ops' }],
    ['POST', 'create_user', 200, 'admin', 'administrator', {}]
  ], 'newest first')
  const [publish, , , pluginConfig, addApp, changePwd, updateUser, createUser] = got as [Entry, Entry, Entry, Entry, Entry, Entry, Entry, Entry]
  assert.deepEqual(createUser.body, { username: 'ops', password: '******', tags: 't', role: 'viewer' })
  assert.deepEqual(updateUser.body, { tags: 'u' })
  assert.deepEqual(changePwd.body, { old_pwd: '******', new_pwd: '******' })
  assert.deepEqual(addApp.body, { app_id: 'ci', secret: '******', role: 'publisher' })
  assert.deepEqual(pluginConfig.body, { 'auth.user.1.username': 'dev', 'auth.user.1.password': '******' })
  assert.deepEqual(publish.body, { topic: 'a/b', payload: 'hi' })
  for (const e of got) {
    assert.equal(e.event, 'request')
    assert.equal(e.node, n.nodeName)
    assert.equal(e.source_ip, '127.0.0.1')
    assert.ok(e.timestamp >= before && e.timestamp <= Date.now())
    assert.match(e.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
  }
  // no secret reached the store in any form
  const raw = JSON.stringify((await n.api('GET', '/audit')).body)
  for (const s of ['ops-password', 'newer-password', 'a-chosen-secret', 'dev-password']) assert.equal(raw.includes(s), false, s)
})

test('failed logins (HTTP Basic on any operation, POST /auth) and refused calls are recorded; a viewer cannot read the log', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('POST', '/users', { body: { username: 'watcher', password: 'w-pass', role: 'viewer' } })).status, 200)
  const viewer = { user: 'watcher', pass: 'w-pass' }
  assert.equal((await n.api('GET', '/brokers', { auth: { user: 'watcher', pass: 'guess-1' } })).status, 401)
  assert.equal((await n.api('DELETE', '/users/admin', { auth: { user: 'nobody', pass: 'guess-2' } })).status, 401)
  assert.equal((await n.api('POST', '/auth', { auth: null, body: { username: 'watcher', password: 'guess-3' } })).status, 401)
  assert.equal((await n.api('POST', '/auth', { auth: null, body: { username: 'watcher', password: 'w-pass' } })).status, 200)
  assert.equal((await n.api('GET', '/brokers', { auth: null })).status, 401, 'no credentials: not a login attempt')
  assert.equal((await n.api('POST', '/banned', { auth: viewer, body: { who: 'c1', as: 'client_id' } })).status, 403)
  const denied = await n.api('GET', '/audit', { auth: viewer })
  assert.deepEqual([denied.status, denied.body], [403, { message: 'forbidden', code: 116 }])

  const got = await entries(n, '', 6)
  assert.deepEqual(got.map(e => [e.event, e.method, e.operation, e.actor, e.role, e.status]), [
    ['request', 'POST', 'create_banned', 'watcher', 'viewer', 403],
    ['request', 'POST', 'auth_user', 'watcher', 'none', 200],
    ['login_failed', 'POST', 'auth_user', 'watcher', 'none', 401],
    ['login_failed', 'DELETE', 'delete_user', 'nobody', 'none', 401],
    ['login_failed', 'GET', 'list_brokers', 'watcher', 'none', 401],
    ['request', 'POST', 'create_user', 'admin', 'administrator', 200]
  ])
  assert.deepEqual(got[2]?.body, { username: 'watcher', password: '******' })
  assert.equal(got[3]?.body, null, 'refused before the body was read')
  assert.equal(got[0]?.body, null, 'refused (403) before the body was read')
})

test('GET /audit: filters actor, operation, status, _gte_time and _lte_time, paging newest first, bad filters 400', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'pw', role: 'administrator' } })).status, 200)
  const ops = { user: 'ops', pass: 'pw' }
  for (let i = 0; i < 3; i++) assert.equal((await n.api('POST', '/banned', { auth: ops, body: { who: `c${i}`, as: 'client_id' } })).status, 200)
  await entries(n, '', 4)
  const middle = Date.now()
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal((await n.api('DELETE', '/banned/c0?as=client_id', { auth: ops })).status, 200)
  assert.equal((await n.api('DELETE', '/banned/c0?as=client_id')).status, 404)
  const all = await entries(n, '', 6)
  assert.equal(all.length, 6)

  const q = async (query: string): Promise<{ items: Entry[], meta: unknown }> => {
    const r = await n.api('GET', `/audit${query}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body
  }
  const ops3 = await q('?actor=ops')
  assert.deepEqual(ops3.items.map(e => e.operation), ['delete_banned', 'create_banned', 'create_banned', 'create_banned'])
  assert.deepEqual(ops3.meta, { count: 4, limit: 10000, page: 1 })
  assert.deepEqual((await q('?operation=create_banned')).items.map(e => e.body.who), ['c2', 'c1', 'c0'])
  assert.deepEqual((await q('?status=404')).items.map(e => [e.actor, e.operation]), [['admin', 'delete_banned']])
  assert.deepEqual((await q(`?_gte_time=${middle}`)).items.map(e => e.status), [404, 200])
  assert.deepEqual((await q(`?_lte_time=${middle}`)).items.length, 4)
  assert.deepEqual((await q(`?_gte_time=${middle}&actor=ops`)).items.map(e => e.operation), ['delete_banned'])
  assert.deepEqual((await q('?actor=nobody')).items, [])
  const page2 = await q('?_page=2&_limit=4')
  assert.deepEqual(page2.items.map(e => e.operation), ['create_banned', 'create_user'])
  assert.deepEqual(page2.meta, { count: 6, limit: 4, page: 2 })
  assert.deepEqual(page2.items, all.slice(4))

  assert.deepEqual(await q('?_page=2147483647&_limit=10000'), { items: [], meta: { count: 6, limit: 10000, page: 2147483647 } })
  assert.deepEqual((await q('?_lte_time=9007199254740991&_gte_time=0')).items.length, 6)
  for (const bad of ['?status=abc', '?status=99', '?_gte_time=-1', '?_lte_time=yesterday', '?_lte_time=9007199254740992', '?actor=', '?who=admin', '?_page=0']) {
    const r = await n.api('GET', `/audit${bad}`)
    assert.equal(r.status, 400, bad)
    assert.equal(r.body.code, 108, bad)
  }
})

test('the log keeps at most audit.max_records entries (hot config), dropping the oldest', async (t) => {
  const n = await startTestNode(t)
  const bad = await n.api('PUT', '/configs/emqx', { body: { key: 'audit.max_records', value: '0' } })
  assert.equal(bad.status, 400)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'audit.max_records', value: '5' } })).status, 200)
  for (let i = 0; i < 12; i++) assert.equal((await n.api('POST', '/banned', { body: { who: `c${i}`, as: 'client_id' } })).status, 200)
  const kept = await eventually(async () => {
    const r = await n.api('GET', '/audit')
    return r.body.meta.count === 5 && r.body.items[0]?.body?.who === 'c11' ? r.body.items as Entry[] : null
  }, 5000)
  assert.deepEqual(kept.map(e => e.body.who), ['c11', 'c10', 'c9', 'c8', 'c7'])
  // nothing was dropped or failed on the way, and GET /metrics says so
  const metrics = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body
  assert.deepEqual([metrics['audit/dropped'], metrics['audit/failed']], [0, 0])
})

test('behind a trusted proxy the source address is X-Forwarded-For\'s right-most entry; without TRUST_PROXY the header is ignored', async (t) => {
  const proxied = await startTestNode(t, { TRUST_PROXY: 'true' })
  const direct = await startTestNode(t)
  for (const n of [proxied, direct]) {
    assert.equal((await n.api('POST', '/banned', { body: { who: 'c1', as: 'client_id' }, headers: { 'x-forwarded-for': '6.6.6.6, 10.1.2.3' } })).status, 200)
  }
  assert.equal((await entries(proxied, '', 1))[0]?.source_ip, '10.1.2.3')
  assert.equal((await entries(direct, '', 1))[0]?.source_ip, '127.0.0.1')
})

test('a failing audit write never fails the call: the call answers, the failure is counted in GET /metrics', async (t) => {
  if (testStore === 'mongo') return t.skip('breaks the embedded store\'s file on purpose')
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-api-audit-'))
  t.after(() => { rmSync(dataDir, { recursive: true, force: true }) })
  const n = await startTestNode(t, {}, { dataDir })
  // another connection renames the table away under the running node: every audit write now fails
  const db = new Database(join(dataDir, SQLITE_FILE))
  db.exec('ALTER TABLE audit RENAME TO audit_gone')
  db.close()
  assert.equal((await n.api('POST', '/banned', { body: { who: 'c1', as: 'client_id' } })).status, 200)
  assert.equal((await n.api('DELETE', '/banned/c1?as=client_id')).status, 200)
  const failed = await eventually(async () => {
    const m = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body
    return m['audit/failed'] >= 2 ? m['audit/failed'] as number : null
  })
  assert.equal(failed, 2)
  assert.equal((await n.api('GET', '/banned')).body.meta.count, 0, 'the calls themselves took effect')
})
