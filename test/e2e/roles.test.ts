// API roles (issue 17): every operation of the spec x every role (users and apps) and no
// credentials, escalation refused, and users and apps written before roles existed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { MongoClient } from 'mongodb'
import { operations, type OperationEntry, type Role } from '../../generated/operations.js'
import { SQLITE_FILE } from '../../src/store/sqlite.js'
import { hashSecret } from '../../src/services/secrets.js'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

const ROLES: Role[] = ['viewer', 'publisher', 'administrator']
const RANK: Record<Role, number> = { viewer: 0, publisher: 1, administrator: 2 }

/** A request that cannot change anything: unknown names in the path, an empty body (a 400 when allowed). */
function dummyCall (op: OperationEntry): { path: string, body: unknown } {
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => name === 'node' ? 'nobody@nowhere' : `no-such-${name}`)
  return { path, body: op.hasBody ? {} : undefined }
}

async function callerOf (n: TestNode, kind: 'user' | 'app', role: Role): Promise<{ user: string, pass: string }> {
  const id = `${kind}-${role}`
  if (kind === 'user') {
    assert.equal((await n.api('POST', '/users', { body: { username: id, password: 'pw-of-' + id, role } })).status, 200)
    return { user: id, pass: 'pw-of-' + id }
  }
  const created = await n.api('POST', '/apps', { body: { app_id: id, role } })
  assert.equal(created.status, 200)
  assert.equal(created.body.role, role)
  return { user: id, pass: created.body.secret as string }
}

test('every operation x each role (users and apps) and no credentials: allowed, 403 or 401, as x-required-role says', async (t) => {
  const n = await startTestNode(t)
  const callers: Array<[string, Role | null, { user: string, pass: string } | null]> = [['no credentials', null, null]]
  for (const kind of ['user', 'app'] as const) {
    for (const role of ROLES) callers.push([`${kind} ${role}`, role, await callerOf(n, kind, role)])
  }
  assert.ok(operations.length >= 57)
  const wrong: string[] = []
  for (const op of operations) {
    const { path, body } = dummyCall(op)
    for (const [who, role, auth] of callers) {
      const r = await n.api(op.method, path, body === undefined ? { auth } : { auth, body })
      const where = `${op.method} ${path} (${op.operationId}, needs ${op.requiredRole}) as ${who}: ${r.status} ${JSON.stringify(r.body)}`
      if (op.requiredRole === 'none') {
        if (r.status === 401 || r.status === 403) wrong.push(where)
      } else if (role === null) {
        // the scrape is open until the hot config prometheus.auth is true (tested in prometheus.test.ts)
        if (r.status !== (op.operationId === 'prometheus_stats' ? 200 : 401)) wrong.push(where)
      } else if (RANK[role] >= RANK[op.requiredRole]) {
        if (r.status === 401 || r.status === 403) wrong.push(where)
      } else if (r.status !== 403 || r.body.message !== 'forbidden' || r.body.code !== 116) {
        wrong.push(where)
      }
    }
  }
  assert.deepEqual(wrong, [])
  // nothing the dummy calls did changed the users and apps
  assert.deepEqual((await n.api('GET', '/users')).body.map((u: { username: string }) => u.username),
    ['admin', 'user-administrator', 'user-publisher', 'user-viewer'])
})

test('a viewer reads, a publisher also publishes and subscribes on behalf of clients, only an administrator changes anything', async (t) => {
  const n = await startTestNode(t)
  const viewer = await callerOf(n, 'user', 'viewer')
  const publisher = await callerOf(n, 'app', 'publisher')
  const sub = await n.client({ clientId: 'watcher' })
  await sub.subscribeAsync('roles/#', { qos: 1 })
  const got: string[] = []
  sub.on('message', (_topic, payload) => { got.push(payload.toString()) })

  assert.equal((await n.api('GET', '/connections', { auth: viewer })).status, 200)
  const refused = await n.api('POST', '/mqtt/publish', { auth: viewer, body: { topic: 'roles/a', payload: 'from viewer', qos: 1 } })
  assert.deepEqual([refused.status, refused.body], [403, { message: 'forbidden', code: 116 }])
  assert.equal((await n.api('DELETE', '/connections/watcher', { auth: viewer })).status, 403)
  assert.equal((await n.api('PUT', '/configs/emqx', { auth: viewer, body: { key: 'mqtt.allow_anonymous', value: 'false' } })).status, 403)

  assert.deepEqual((await n.api('POST', '/mqtt/publish', { auth: publisher, body: { topic: 'roles/a', payload: 'from publisher', qos: 1 } })).body, { code: 0 })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { auth: publisher, body: { topic: 'more/#', qos: 0, client_id: 'watcher' } })).body, { code: 0 })
  assert.equal((await n.api('DELETE', '/connections/watcher', { auth: publisher })).status, 403)
  assert.equal((await n.api('PUT', '/configs/emqx', { auth: publisher, body: { key: 'mqtt.allow_anonymous', value: 'false' } })).status, 403)
  assert.equal((await n.api('GET', '/configs', { auth: publisher })).status, 200)
  // the refused calls did nothing
  const anon = (await n.api('GET', `/nodes/${n.nodeName}/configs`)).body.find((c: { key: string }) => c.key === 'mqtt.allow_anonymous')
  assert.equal(anon.value, 'true')
  assert.deepEqual((await n.api('GET', '/connections/watcher')).body.length, 1)
  await eventually(() => got.length > 0)
  assert.deepEqual(got, ['from publisher'])
})

test('escalation refused: a viewer creating an administrator, a publisher raising itself, an app creating an app above its role', async (t) => {
  const n = await startTestNode(t)
  const viewer = await callerOf(n, 'user', 'viewer')
  const publisher = await callerOf(n, 'user', 'publisher')
  const pubApp = await callerOf(n, 'app', 'publisher')

  const mk = await n.api('POST', '/users', { auth: viewer, body: { username: 'boss', password: 'pw', role: 'administrator' } })
  assert.deepEqual([mk.status, mk.body], [403, { message: 'forbidden', code: 116 }])
  assert.equal((await n.api('POST', '/users', { auth: viewer, body: { username: 'boss', password: 'pw' } })).status, 403, 'the default role is administrator')
  const raise = await n.api('PUT', `/users/${publisher.user}`, { auth: publisher, body: { role: 'administrator' } })
  assert.deepEqual([raise.status, raise.body.code], [403, 116])
  assert.equal((await n.api('POST', '/apps', { auth: pubApp, body: { app_id: 'bigger', role: 'administrator' } })).status, 403)
  assert.equal((await n.api('PUT', `/apps/${pubApp.user}`, { auth: pubApp, body: { role: 'administrator' } })).status, 403)

  // nothing was written: still the same roles, no new user or app
  const users = (await n.api('GET', '/users')).body as Array<{ username: string, role: string }>
  assert.deepEqual(users.map(u => [u.username, u.role]), [['admin', 'administrator'], ['user-publisher', 'publisher'], ['user-viewer', 'viewer']])
  assert.equal((await n.api('GET', '/apps/bigger')).status, 404)
  assert.equal((await n.api('GET', `/apps/${pubApp.user}`)).body.role, 'publisher')
  assert.equal((await n.api('POST', '/mqtt/publish', { auth: publisher, body: { topic: 'x', payload: 'y' } })).status, 200)
  assert.equal((await n.api('POST', '/banned', { auth: publisher, body: { who: 'c1', as: 'client_id' } })).status, 403, 'still a publisher')
})

test('roles of users and apps: set, returned beside the seed fields, changed; admin stays administrator; a lowered role applies at once', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'pw-ops', tags: 'viewer' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users')).body[1], { username: 'ops', tags: 'viewer', role: 'administrator' }, 'tags grant nothing; the default role is administrator')
  const ops = { user: 'ops', pass: 'pw-ops' }
  assert.equal((await n.api('POST', '/banned', { auth: ops, body: { who: 'c9', as: 'client_id' } })).status, 200)
  assert.equal((await n.api('PUT', '/users/ops', { body: { role: 'viewer' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users')).body[1], { username: 'ops', tags: 'viewer', role: 'viewer' }, 'tags unchanged')
  assert.equal((await n.api('DELETE', '/banned/c9?as=client_id', { auth: ops })).status, 403, 'the new role applies to the next call')
  assert.equal((await n.api('PUT', '/users/ops', { body: { tags: 'seed style' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users')).body[1], { username: 'ops', tags: 'seed style', role: 'viewer' })
  assert.equal((await n.api('PUT', '/users/ops', { body: { role: 'owner' } })).status, 400)
  assert.equal((await n.api('PUT', '/users/ops', { body: {} })).status, 400)

  const lower = await n.api('PUT', '/users/admin', { body: { role: 'viewer' } })
  assert.deepEqual([lower.status, lower.body], [409, { message: 'cannot_lower_admin', code: 106 }])
  assert.equal((await n.api('PUT', '/users/admin', { body: { role: 'administrator', tags: 'root' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users')).body[0], { username: 'admin', tags: 'root', role: 'administrator' })

  const app = await n.api('POST', '/apps', { body: { app_id: 'ci', role: 'viewer' } })
  assert.equal(app.body.role, 'viewer')
  assert.deepEqual((await n.api('GET', '/apps/ci')).body, { app_id: 'ci', name: 'ci', desc: '', status: true, role: 'viewer' })
  assert.equal((await n.api('PUT', '/apps/ci', { body: { role: 'publisher' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/apps')).body, [{ app_id: 'ci', name: 'ci', desc: '', status: true, role: 'publisher' }])
  assert.equal((await n.api('POST', '/mqtt/publish', { auth: { user: 'ci', pass: app.body.secret }, body: { topic: 'x', payload: 'y' } })).status, 200)
  assert.equal((await n.api('POST', '/apps', { body: { app_id: 'ci2', role: 'root' } })).status, 400)
})

const oldSchema = `
CREATE TABLE apps (app_id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, status INTEGER NOT NULL, expired INTEGER, secret_hash TEXT NOT NULL);
CREATE TABLE users (username TEXT NOT NULL PRIMARY KEY, tags TEXT NOT NULL, password_hash TEXT NOT NULL);
`

/** A node on a store written before roles: its users and apps, every one now an administrator. */
async function assertMigrated (n: TestNode): Promise<void> {
  assert.deepEqual((await n.api('GET', '/users')).body, [
    { username: 'admin', tags: 'administrator', role: 'administrator' },
    { username: 'old-ops', tags: 'viewer', role: 'administrator' }
  ])
  assert.deepEqual((await n.api('GET', '/apps')).body, [{ app_id: 'old-app', name: 'Old', desc: 'from before roles', status: true, role: 'administrator' }])
  // and they act as administrators, with the passwords they had
  assert.equal((await n.api('POST', '/users', { auth: { user: 'old-ops', pass: 'old-pw' }, body: { username: 'new', password: 'pw', role: 'viewer' } })).status, 200)
  assert.equal((await n.api('PUT', '/configs/emqx', { auth: { user: 'old-app', pass: 'old-app-secret' }, body: { key: 'mqtt.max_topic_levels', value: '9' } })).status, 200)
}

test('migration, embedded store: users and apps written before roles become administrators, and stay so across a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-api-roles-'))
  t.after(() => { rmSync(dataDir, { recursive: true, force: true }) })
  const db = new Database(join(dataDir, SQLITE_FILE))
  db.exec(oldSchema)
  db.prepare('INSERT INTO users VALUES (?, ?, ?)').run('admin', 'administrator', await hashSecret('public'))
  db.prepare('INSERT INTO users VALUES (?, ?, ?)').run('old-ops', 'viewer', await hashSecret('old-pw'))
  db.prepare('INSERT INTO apps VALUES (?, ?, ?, ?, ?, ?)').run('old-app', 'Old', 'from before roles', 1, null, await hashSecret('old-app-secret'))
  db.close()

  // the embedded store whatever TEST_STORE says: it is the one written by the old shape here
  const embedded = { MONGODB_URL: '' }
  const first = await startTestNode(t, embedded, { dataDir })
  await assertMigrated(first)
  assert.equal((await first.api('PUT', '/users/old-ops', { body: { role: 'publisher' } })).status, 200)
  await first.node.close()
  const again = await startTestNode(t, embedded, { dataDir })
  assert.equal((await again.api('GET', '/users')).body[2].role, 'publisher', 'a migrated store is not migrated again')
})

test('migration, MongoDB: users and apps written before roles become administrators', async (t) => {
  const url = process.env.MONGODB_TEST_URL
  if (!url) return t.skip('MONGODB_TEST_URL not set')
  const dbName = `roles_migration_${process.pid}_${Date.now()}`
  const client = new MongoClient(url)
  t.after(async () => { await client.db(dbName).dropDatabase().catch(() => {}); await client.close() })
  const db = client.db(dbName)
  // the documents as the store wrote them before roles (no role field)
  await db.collection('users').insertMany([
    { username: 'admin', tags: 'administrator', passwordHash: await hashSecret('public') },
    { username: 'old-ops', tags: 'viewer', passwordHash: await hashSecret('old-pw') }
  ])
  await db.collection('apps').insertOne({ app_id: 'old-app', name: 'Old', desc: 'from before roles', status: true, expired: null, secretHash: await hashSecret('old-app-secret') })

  const n = await startTestNode(t, { MONGODB_URL: `${url.replace(/\/?$/, '/')}${dbName}` })
  await assertMigrated(n)
  assert.equal(await db.collection('users').countDocuments({ role: { $exists: false } }), 0, 'the stored documents say so too')
  assert.equal(await db.collection('apps').countDocuments({ role: 'administrator' }), 1)
})
