// UsersService and AppsService on a real embedded store: what the handlers used to do themselves,
// now one service call each (hashing, verifying, partial updates, the guarded admin, 404/409/400).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite.js'
import { ApiError, ReturnCode } from '../../src/core/errors.js'
import { Alarms } from '../../src/services/alarms.js'
import { AppsService } from '../../src/services/apps.js'
import { verifySecret } from '../../src/services/secrets.js'
import { UsersService } from '../../src/services/users.js'

async function store (t: TestContext): Promise<SqliteStore> {
  const dir = mkdtempSync(join(tmpdir(), 'emqx-api-services-'))
  const s = new SqliteStore({ dataDir: dir })
  await s.init()
  t.after(async () => { await s.close(); rmSync(dir, { recursive: true, force: true }) })
  return s
}

const fails = (status: number, code: number) => (err: unknown): boolean => {
  assert.ok(err instanceof ApiError, String(err))
  assert.equal(err.status, status)
  assert.equal(err.code, code)
  return true
}

test('users: create hashes the password, duplicates are 409, tags default to "undefined" as in EMQ X', async (t) => {
  const s = await store(t)
  const users = new UsersService(s, new Alarms())
  await users.create({ username: 'ops', password: 's3cret' })
  const rec = await s.users.get('ops')
  assert.equal(rec?.tags, 'undefined')
  assert.notEqual(rec?.passwordHash, 's3cret')
  assert.equal(await verifySecret(rec?.passwordHash ?? '', 's3cret'), true)
  await assert.rejects(users.create({ username: 'ops', password: 'other', tags: 'x' }), fails(409, ReturnCode.USER_EXISTS))
  assert.equal(await verifySecret((await s.users.get('ops'))?.passwordHash ?? '', 's3cret'), true, 'the refused create changed nothing')
  assert.deepEqual((await users.list()).map(u => [u.username, u.tags]), [['ops', 'undefined']])
})

test('users: verify, change password (old one checked), tags, delete; admin cannot be deleted; the default-password alarm follows admin', async (t) => {
  const s = await store(t)
  const alarms = new Alarms()
  const users = new UsersService(s, alarms)
  await users.start()
  assert.equal(alarms.isActive('default_admin_password'), true)
  assert.equal(await users.verify('admin', 'public'), true)
  assert.equal(await users.verify('admin', 'wrong'), false)
  assert.equal(await users.verify('nobody', 'public'), false)
  await assert.rejects(users.changePassword('admin', 'wrong', 'new-one'), fails(400, ReturnCode.OLD_PASSWORD_WRONG))
  assert.equal(await users.verify('admin', 'public'), true, 'a refused change keeps the old password')
  await assert.rejects(users.changePassword('nobody', 'x', 'y'), fails(404, ReturnCode.USER_NOT_FOUND))
  await users.changePassword('admin', 'public', 'new-one')
  assert.equal(await users.verify('admin', 'new-one'), true)
  assert.equal(alarms.isActive('default_admin_password'), false)
  await users.update('admin', { tags: 'root' })
  assert.equal((await s.users.get('admin'))?.tags, 'root')
  await assert.rejects(users.update('nobody', { tags: 'x' }), fails(404, ReturnCode.USER_NOT_FOUND))
  await assert.rejects(users.delete('admin'), fails(409, ReturnCode.ADMIN_UNDELETABLE))
  await assert.rejects(users.update('admin', { role: 'viewer' }), fails(409, ReturnCode.ADMIN_UNDELETABLE))
  await assert.rejects(users.delete('nobody'), fails(404, ReturnCode.USER_NOT_FOUND))
  await users.create({ username: 'ops', password: 'p' })
  await users.delete('ops')
  assert.equal(await s.users.get('ops'), null)
})

test('apps: create returns the secret once and stores its hash; defaults; 409 on a duplicate id', async (t) => {
  const s = await store(t)
  const apps = new AppsService(s)
  const made = await apps.create({ app_id: 'ci', status: true })
  assert.equal(made.secret.length > 0, true)
  assert.deepEqual({ ...made.app, secretHash: undefined }, { app_id: 'ci', name: 'ci', desc: '', status: true, expired: null, secretHash: undefined, role: 'administrator' })
  assert.equal(await verifySecret((await s.apps.get('ci'))?.secretHash ?? '', made.secret), true)
  const given = await apps.create({ app_id: 'own', name: 'Own', desc: 'd', status: false, expired: 4102444800, secret: 'my-secret' })
  assert.equal(given.secret, 'my-secret')
  await assert.rejects(apps.create({ app_id: 'ci', status: true }), fails(409, ReturnCode.UNKNOWN_ERROR))
  assert.equal(await verifySecret((await s.apps.get('ci'))?.secretHash ?? '', made.secret), true, 'the refused create changed nothing')
  assert.deepEqual((await apps.list()).map(a => a.app_id), ['ci', 'own'])
})

test('apps: update changes only the fields sent (expired null removes the expiry); get, update and delete of an absent app are 404', async (t) => {
  const s = await store(t)
  const apps = new AppsService(s)
  await apps.create({ app_id: 'a', name: 'A', desc: 'first', status: true, expired: 4102444800 })
  await apps.update('a', { desc: 'second' })
  assert.deepEqual({ ...await apps.get('a'), secretHash: '' }, { app_id: 'a', name: 'A', desc: 'second', status: true, expired: 4102444800, secretHash: '', role: 'administrator' })
  await apps.update('a', { status: false, expired: null })
  await apps.update('a', { role: 'viewer' })
  const after = await apps.get('a')
  assert.equal(after.status, false)
  assert.equal(after.expired, null)
  assert.equal(after.desc, 'second')
  assert.equal(after.role, 'viewer')
  await assert.rejects(apps.get('none'), fails(404, ReturnCode.UNKNOWN_ERROR))
  await assert.rejects(apps.update('none', { name: 'x' }), fails(404, ReturnCode.UNKNOWN_ERROR))
  await assert.rejects(apps.delete('none'), fails(404, ReturnCode.UNKNOWN_ERROR))
  await apps.delete('a')
  assert.deepEqual(await apps.list(), [])
})
