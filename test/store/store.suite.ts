/**
 * Conformance suite every Store backend must pass (see src/store/store.ts).
 * Each test gets a fresh, empty backend from makeStore; `reopen` opens a second store on the
 * same backend so persistence across close() can be checked.
 */
import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { AclKind, AclRecord, AlarmHistoryRecord, AppRecord, AuditRecord, BannedKind, BannedRecord, MemberRecord, Store, UserRecord } from '../../src/store/store.js'

export interface StoreFixture {
  store: Store
  /** a new, not yet initialised store on the same backend as `store` */
  reopen: () => Store
  cleanup: () => Promise<void>
}

const app = (id: string, extra: Partial<AppRecord> = {}): AppRecord => ({
  app_id: id,
  name: `name of ${id}`,
  desc: `desc of ${id}`,
  status: true,
  expired: null,
  secretHash: `hash-${id}`,
  role: 'viewer',
  ...extra
})

const user = (username: string, extra: Partial<UserRecord> = {}): UserRecord => ({
  username,
  tags: `tags of ${username}`,
  passwordHash: `hash-${username}`,
  role: 'publisher',
  ...extra
})

const ban = (as: BannedKind, who: string, extra: Partial<BannedRecord> = {}): BannedRecord => ({
  who,
  as,
  reason: `reason for ${who}`,
  desc: `desc for ${who}`,
  by: 'admin',
  until: null,
  createdAt: 1_700_000_000_123,
  ...extra
})

const member = (name: string, extra: Partial<MemberRecord> = {}): MemberRecord => ({
  name,
  instance: `i-${name}`,
  apiUrl: `http://${name.split('@')[1] ?? 'h'}:8080`,
  version: '1.0.0',
  otpRelease: 'Node.js/20.0.0',
  startedAt: 1_700_000_000_000,
  heartbeatAt: 1_700_000_005_000,
  running: true,
  ...extra
})

const rule = (kind: AclKind, who: string, topic: string, addedAt: number, extra: Partial<AclRecord> = {}): AclRecord => ({
  kind, who, topic, action: 'pubsub', access: 'allow', addedAt, ...extra
})

/** A request value that is not a string at runtime; it must never act as a query operator. */
const operator = { $ne: null } as unknown as string

/** Backends may reject a non-string key or treat it as a literal, but never match with it. */
async function assertNoMatch<T> (op: Promise<T>, expected: T): Promise<void> {
  try {
    assert.deepEqual(await op, expected)
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err
  }
}

export function storeSuite (name: string, makeStore: () => Promise<StoreFixture>): void {
  /** a fresh initialised store, closed and cleaned up when the test ends */
  async function open (t: TestContext): Promise<{ store: Store, reopen: () => Store }> {
    const { store, reopen, cleanup } = await makeStore()
    const opened = [store]
    // close every store of this backend before the backend itself is removed
    t.after(async () => {
      for (const s of opened) await s.close()
      await cleanup()
    })
    await store.init()
    return {
      store,
      reopen: () => {
        const s = reopen()
        opened.push(s)
        return s
      }
    }
  }

  describe(`store conformance: ${name}`, () => {
    test('ping resolves on a healthy store', async (t) => {
      const { store } = await open(t)
      await store.ping()
    })

    describe('apps', () => {
      test('insert, get and absent get', async (t) => {
        const { store } = await open(t)
        const a = app('app1', { expired: 1_900_000_000, status: false })
        assert.equal(await store.apps.insert(a), true)
        assert.deepEqual(await store.apps.get('app1'), a)
        assert.equal(await store.apps.get('nope'), null)
      })

      test('duplicate insert returns false and keeps the first record', async (t) => {
        const { store } = await open(t)
        const first = app('dup')
        assert.equal(await store.apps.insert(first), true)
        assert.equal(await store.apps.insert(app('dup', { name: 'other', secretHash: 'other' })), false)
        assert.deepEqual(await store.apps.get('dup'), first)
        assert.equal((await store.apps.list()).length, 1)
      })

      test('concurrent inserts of one id: exactly one wins', async (t) => {
        const { store } = await open(t)
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.apps.insert(app('race', { name: `n${i}` }))))
        assert.equal(results.filter(Boolean).length, 1)
        assert.equal((await store.apps.list()).length, 1)
      })

      test('list is sorted by app_id (byte order)', async (t) => {
        const { store } = await open(t)
        for (const id of ['b', 'a10', 'C', 'a2', 'a1']) assert.equal(await store.apps.insert(app(id)), true)
        assert.deepEqual((await store.apps.list()).map((a) => a.app_id), ['C', 'a1', 'a10', 'a2', 'b'])
        assert.deepEqual(await store.apps.list().then((l) => l[0]), app('C'))
      })

      test('list of an empty store is empty', async (t) => {
        const { store } = await open(t)
        assert.deepEqual(await store.apps.list(), [])
      })

      test('update changes only the sent fields', async (t) => {
        const { store } = await open(t)
        const a = app('u1', { expired: 1_900_000_000 })
        await store.apps.insert(a)
        await store.apps.insert(app('u2'))

        const renamed = { ...a, name: 'renamed' }
        assert.deepEqual(await store.apps.update('u1', { name: 'renamed' }), renamed)
        assert.deepEqual(await store.apps.get('u1'), renamed)

        const disabled = { ...renamed, status: false, desc: 'new desc', expired: null }
        assert.deepEqual(await store.apps.update('u1', { status: false, desc: 'new desc', expired: null }), disabled)
        assert.deepEqual(await store.apps.get('u1'), disabled)

        assert.deepEqual(await store.apps.update('u1', { expired: 2_000_000_000 }), { ...disabled, expired: 2_000_000_000 })
        assert.deepEqual(await store.apps.update('u1', {}), { ...disabled, expired: 2_000_000_000 })
        // the other record is untouched
        assert.deepEqual(await store.apps.get('u2'), app('u2'))
      })

      test('update of an absent app returns null and creates nothing', async (t) => {
        const { store } = await open(t)
        assert.equal(await store.apps.update('ghost', { name: 'x' }), null)
        assert.equal(await store.apps.update('ghost', {}), null)
        assert.equal(await store.apps.get('ghost'), null)
        assert.deepEqual(await store.apps.list(), [])
      })

      test('delete returns true once, then false', async (t) => {
        const { store } = await open(t)
        await store.apps.insert(app('d1'))
        await store.apps.insert(app('d2'))
        assert.equal(await store.apps.delete('d1'), true)
        assert.equal(await store.apps.delete('d1'), false)
        assert.equal(await store.apps.get('d1'), null)
        assert.deepEqual((await store.apps.list()).map((a) => a.app_id), ['d2'])
      })

      test('operator-looking ids are literal', async (t) => {
        const { store } = await open(t)
        const literal = app('{"$ne": null}')
        await store.apps.insert(literal)
        await store.apps.insert(app('$ne'))
        await store.apps.insert(app('plain'))
        assert.deepEqual(await store.apps.get('{"$ne": null}'), literal)
        assert.deepEqual((await store.apps.get('$ne'))?.app_id, '$ne')
        assert.equal(await store.apps.get('{"$gt": ""}'), null)
        await assertNoMatch(store.apps.get(operator), null)
        await assertNoMatch(store.apps.delete(operator), false)
        await assertNoMatch(store.apps.update(operator, { name: 'pwned' }), null)
        assert.equal((await store.apps.list()).length, 3)
        assert.ok((await store.apps.list()).every((a) => a.name !== 'pwned'))
      })
    })

    describe('users', () => {
      test('insert, get, count and absent get', async (t) => {
        const { store } = await open(t)
        assert.equal(await store.users.count(), 0)
        const u = user('admin')
        assert.equal(await store.users.insert(u), true)
        assert.deepEqual(await store.users.get('admin'), u)
        assert.equal(await store.users.get('nobody'), null)
        assert.equal(await store.users.count(), 1)
      })

      test('duplicate insert returns false and keeps the first record', async (t) => {
        const { store } = await open(t)
        assert.equal(await store.users.insert(user('bob')), true)
        assert.equal(await store.users.insert(user('bob', { tags: 'other', passwordHash: 'other' })), false)
        assert.deepEqual(await store.users.get('bob'), user('bob'))
        assert.equal(await store.users.count(), 1)
      })

      test('list is sorted by username', async (t) => {
        const { store } = await open(t)
        for (const n of ['zed', 'Alice', 'bob', 'alice']) await store.users.insert(user(n))
        assert.deepEqual((await store.users.list()).map((u) => u.username), ['Alice', 'alice', 'bob', 'zed'])
        assert.deepEqual((await store.users.list())[0], user('Alice'))
        assert.equal(await store.users.count(), 4)
      })

      test('update changes only the sent fields', async (t) => {
        const { store } = await open(t)
        await store.users.insert(user('carol'))
        await store.users.insert(user('dave'))
        assert.deepEqual(await store.users.update('carol', { tags: 'ops' }), user('carol', { tags: 'ops' }))
        assert.deepEqual(await store.users.update('carol', { passwordHash: 'h2' }), user('carol', { tags: 'ops', passwordHash: 'h2' }))
        assert.deepEqual(await store.users.update('carol', {}), user('carol', { tags: 'ops', passwordHash: 'h2' }))
        assert.deepEqual(await store.users.get('carol'), user('carol', { tags: 'ops', passwordHash: 'h2' }))
        assert.deepEqual(await store.users.get('dave'), user('dave'))
        assert.equal(await store.users.update('ghost', { tags: 'x' }), null)
        assert.equal(await store.users.get('ghost'), null)
      })

      test('delete returns true once, then false', async (t) => {
        const { store } = await open(t)
        await store.users.insert(user('erin'))
        assert.equal(await store.users.delete('erin'), true)
        assert.equal(await store.users.delete('erin'), false)
        assert.equal(await store.users.get('erin'), null)
        assert.equal(await store.users.count(), 0)
      })

      test('operator-looking usernames are literal', async (t) => {
        const { store } = await open(t)
        await store.users.insert(user('$ne'))
        await store.users.insert(user('real'))
        assert.deepEqual(await store.users.get('$ne'), user('$ne'))
        assert.equal(await store.users.get('{"$ne": null}'), null)
        await assertNoMatch(store.users.get(operator), null)
        await assertNoMatch(store.users.delete(operator), false)
        assert.equal(await store.users.count(), 2)
      })
    })

    describe('banned', () => {
      test('put, get and absent get', async (t) => {
        const { store } = await open(t)
        const b = ban('client_id', 'c1', { until: 1_900_000_000 })
        await store.banned.put(b)
        assert.deepEqual(await store.banned.get('client_id', 'c1'), b)
        assert.equal(await store.banned.get('client_id', 'c2'), null)
        assert.equal(await store.banned.get('username', 'c1'), null)
      })

      test('put is an upsert on (as, who)', async (t) => {
        const { store } = await open(t)
        await store.banned.put(ban('username', 'u1'))
        const replaced = ban('username', 'u1', { reason: 'again', desc: 'd2', by: 'ops', until: 1_800_000_000, createdAt: 1_700_000_999_000 })
        await store.banned.put(replaced)
        assert.deepEqual(await store.banned.get('username', 'u1'), replaced)
        assert.deepEqual(await store.banned.list(), [replaced])
      })

      test('same who with another `as` is a different entry', async (t) => {
        const { store } = await open(t)
        await store.banned.put(ban('username', 'x'))
        await store.banned.put(ban('client_id', 'x', { reason: 'other' }))
        assert.equal((await store.banned.list()).length, 2)
        assert.equal((await store.banned.get('username', 'x'))?.reason, 'reason for x')
        assert.equal((await store.banned.get('client_id', 'x'))?.reason, 'other')
        assert.equal(await store.banned.delete('username', 'x'), true)
        assert.deepEqual(await store.banned.get('client_id', 'x'), ban('client_id', 'x', { reason: 'other' }))
      })

      test('concurrent puts of one new key leave one entry', async (t) => {
        const { store } = await open(t)
        await Promise.all(Array.from({ length: 8 }, (_, i) => store.banned.put(ban('ip_address', '10.0.0.1', { reason: `r${i}` }))))
        const list = await store.banned.list()
        assert.equal(list.length, 1)
        assert.match(list[0]?.reason ?? '', /^r\d$/)
      })

      test('list is sorted by (as, who)', async (t) => {
        const { store } = await open(t)
        await store.banned.put(ban('username', 'b'))
        await store.banned.put(ban('client_id', 'z'))
        await store.banned.put(ban('username', 'a'))
        await store.banned.put(ban('ip_address', '127.0.0.1'))
        await store.banned.put(ban('client_id', 'a'))
        assert.deepEqual((await store.banned.list()).map((b) => `${b.as}/${b.who}`),
          ['client_id/a', 'client_id/z', 'ip_address/127.0.0.1', 'username/a', 'username/b'])
      })

      test('delete returns true once, then false', async (t) => {
        const { store } = await open(t)
        await store.banned.put(ban('client_id', 'gone'))
        assert.equal(await store.banned.delete('client_id', 'gone'), true)
        assert.equal(await store.banned.delete('client_id', 'gone'), false)
        assert.equal(await store.banned.get('client_id', 'gone'), null)
      })

      test('deleteExpired removes only entries whose until is before now and returns them', async (t) => {
        const { store } = await open(t)
        const now = 1_800_000_000
        const expiredB = ban('username', 'old-b', { until: now - 1 })
        const expiredA = ban('client_id', 'old-a', { until: now - 3600 })
        const atNow = ban('client_id', 'edge', { until: now })
        const future = ban('ip_address', '1.2.3.4', { until: now + 60 })
        const forever = ban('username', 'forever', { until: null })
        for (const b of [expiredB, future, forever, atNow, expiredA]) await store.banned.put(b)

        const removed = await store.banned.deleteExpired(now)
        assert.deepEqual(removed, [expiredA, expiredB])
        assert.deepEqual(await store.banned.list(), [atNow, future, forever])
        assert.deepEqual(await store.banned.deleteExpired(now), [])
        assert.deepEqual(await store.banned.deleteExpired(now + 61), [atNow, future])
        assert.deepEqual(await store.banned.list(), [forever])
      })

      test('operator-looking who is literal', async (t) => {
        const { store } = await open(t)
        const b = ban('username', '$ne')
        await store.banned.put(b)
        await store.banned.put(ban('username', 'someone'))
        assert.deepEqual(await store.banned.get('username', '$ne'), b)
        assert.equal(await store.banned.get('username', '{"$ne": null}'), null)
        await assertNoMatch(store.banned.get('username', operator), null)
        await assertNoMatch(store.banned.get(operator as BannedKind, 'someone'), null)
        await assertNoMatch(store.banned.delete('username', operator), false)
        assert.equal((await store.banned.list()).length, 2)
      })
    })

    describe('acl', () => {
      test('add, list by kind and of one target: (kind, who), newest first, then topic and action', async (t) => {
        const { store } = await open(t)
        const rules = [
          rule('username', 'u1', 'a/#', 100),
          rule('clientid', 'c2', 'x', 50),
          rule('clientid', 'c1', 'old', 10, { access: 'deny' }),
          rule('username', 'u1', 'b', 300, { action: 'pub' }),
          rule('clientid', 'c1', 'new', 20),
          rule('all', '', '#', 5, { action: 'sub' }),
          rule('ipaddress', '10.0.0.0/8', 'n/#', 7),
          rule('clientid', 'c1', 'same', 20, { action: 'sub' }),
          rule('clientid', 'c1', 'same', 20, { action: 'pub' })
        ]
        await store.acl.add(rules)
        const keys = (rs: AclRecord[]): string[] => rs.map(r => `${r.kind}/${r.who}/${r.topic}/${r.action}`)
        assert.deepEqual(keys(await store.acl.list('clientid')), ['clientid/c1/new/pubsub', 'clientid/c1/same/pub', 'clientid/c1/same/sub', 'clientid/c1/old/pubsub', 'clientid/c2/x/pubsub'])
        assert.deepEqual(keys(await store.acl.list()), [
          'all//#/sub', 'clientid/c1/new/pubsub', 'clientid/c1/same/pub', 'clientid/c1/same/sub', 'clientid/c1/old/pubsub', 'clientid/c2/x/pubsub',
          'ipaddress/10.0.0.0/8/n/#/pubsub', 'username/u1/b/pub', 'username/u1/a/#/pubsub'])
        assert.deepEqual(await store.acl.of('clientid', 'c1'), [rules[4], rules[8], rules[7], rules[2]])
        assert.deepEqual(await store.acl.of('all', ''), [rules[5]])
        assert.deepEqual(await store.acl.of('clientid', 'nobody'), [])
        assert.deepEqual(await store.acl.list('username'), [rules[3], rules[0]])
      })

      test('a rule replaces the one with the same (kind, who, topic, action); the later of a batch wins', async (t) => {
        const { store } = await open(t)
        await store.acl.add([rule('clientid', 'c', 't', 1), rule('clientid', 'c', 't', 2, { action: 'pub' })])
        await store.acl.add([rule('clientid', 'c', 't', 3, { access: 'deny' }), rule('clientid', 'c', 't', 4, { access: 'allow' })])
        assert.deepEqual(await store.acl.of('clientid', 'c'), [rule('clientid', 'c', 't', 4), rule('clientid', 'c', 't', 2, { action: 'pub' })])
        await store.acl.add([])
        assert.equal((await store.acl.list()).length, 2)
      })

      test('delete removes every action of one target\'s topic and says how many', async (t) => {
        const { store } = await open(t)
        await store.acl.add([rule('username', 'u', 't', 1, { action: 'pub' }), rule('username', 'u', 't', 2, { action: 'sub' }), rule('username', 'u', 't/+', 3), rule('username', 'v', 't', 4)])
        assert.equal(await store.acl.delete('username', 'u', 't'), 2)
        assert.equal(await store.acl.delete('username', 'u', 't'), 0)
        assert.equal(await store.acl.delete('clientid', 'u', 't/+'), 0)
        assert.deepEqual((await store.acl.list()).map(r => `${r.who}/${r.topic}`), ['u/t/+', 'v/t'])
      })

      test('operator-looking values are literal', async (t) => {
        const { store } = await open(t)
        await store.acl.add([rule('clientid', '$ne', '$x/#', 1), rule('clientid', 'real', 't', 2)])
        assert.deepEqual(await store.acl.of('clientid', '$ne'), [rule('clientid', '$ne', '$x/#', 1)])
        await assertNoMatch(store.acl.of('clientid', operator), [])
        await assertNoMatch(store.acl.list(operator as AclKind), [])
        await assertNoMatch(store.acl.delete('clientid', operator, operator), 0)
        assert.equal((await store.acl.list()).length, 2)
      })
    })

    describe('kv', () => {
      const values: Array<[string, unknown]> = [
        ['string', 'hello "world" ☃'],
        ['empty', ''],
        ['int', 42],
        ['negative', -7],
        ['float', 3.25],
        ['zero', 0],
        ['true', true],
        ['false', false],
        ['null', null],
        ['array', [1, 'two', { three: 3 }, [], null]],
        ['object', { nested: { deep: [true, false] }, n: 1.5, s: 'x', empty: {} }],
        ['operators', { $set: { a: 1 }, 'a.b': 2, $where: 'return true' }]
      ]

      test('JSON values round-trip', async (t) => {
        const { store } = await open(t)
        for (const [key, value] of values) await store.kv.set('ns', key, value)
        for (const [key, value] of values) assert.deepEqual(await store.kv.get('ns', key), value, key)
        assert.deepEqual(await store.kv.all('ns'), Object.fromEntries(values))
      })

      test('absent keys and namespaces', async (t) => {
        const { store } = await open(t)
        assert.equal(await store.kv.get('ns', 'missing'), undefined)
        assert.deepEqual(await store.kv.all('empty-ns'), {})
      })

      test('set overwrites', async (t) => {
        const { store } = await open(t)
        await store.kv.set('ns', 'k', { a: 1 })
        await store.kv.set('ns', 'k', 'now a string')
        assert.equal(await store.kv.get('ns', 'k'), 'now a string')
        assert.deepEqual(await store.kv.all('ns'), { k: 'now a string' })
      })

      test('namespaces are isolated', async (t) => {
        const { store } = await open(t)
        await store.kv.set('hot_config', 'k', 1)
        await store.kv.set('plugin_state', 'k', 2)
        await store.kv.set('plugin_state', 'other', 3)
        assert.equal(await store.kv.get('hot_config', 'k'), 1)
        assert.equal(await store.kv.get('plugin_state', 'k'), 2)
        assert.deepEqual(await store.kv.all('hot_config'), { k: 1 })
        assert.deepEqual(await store.kv.all('plugin_state'), { k: 2, other: 3 })
        assert.equal(await store.kv.delete('hot_config', 'k'), true)
        assert.equal(await store.kv.get('plugin_state', 'k'), 2)
      })

      test('delete returns true once, then false', async (t) => {
        const { store } = await open(t)
        await store.kv.set('ns', 'k', 1)
        assert.equal(await store.kv.delete('ns', 'k'), true)
        assert.equal(await store.kv.delete('ns', 'k'), false)
        assert.equal(await store.kv.get('ns', 'k'), undefined)
      })

      test('operator-looking keys are literal', async (t) => {
        const { store } = await open(t)
        await store.kv.set('ns', '{"$ne": null}', 'literal')
        await store.kv.set('ns', '$ne', 'dollar')
        await store.kv.set('ns', 'a.b', 'dotted')
        await store.kv.set('ns', '__proto__', { polluted: true })
        assert.equal(await store.kv.get('ns', '{"$ne": null}'), 'literal')
        assert.equal(await store.kv.get('ns', '$ne'), 'dollar')
        assert.equal(await store.kv.get('ns', 'a.b'), 'dotted')
        assert.equal(await store.kv.get('ns', '{"$gt": ""}'), undefined)
        await assertNoMatch(store.kv.get('ns', operator), undefined)
        await assertNoMatch(store.kv.delete('ns', operator), false)
        await assertNoMatch(store.kv.all(operator), {})

        const all = await store.kv.all('ns')
        assert.deepEqual(Object.keys(all).sort(), ['$ne', '__proto__', 'a.b', '{"$ne": null}'])
        assert.deepEqual(Object.getOwnPropertyDescriptor(all, '__proto__')?.value, { polluted: true })
        assert.equal(Object.getPrototypeOf(all), Object.prototype)
        assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
      })
    })

    describe('alarm history', () => {
      const entry = (name: string, deactivatedAt: number, extra: Partial<AlarmHistoryRecord> = {}): AlarmHistoryRecord => ({
        node: 'n1@h', name, severity: 'warning', title: `title of ${name}`, message: `message of ${name}`, activatedAt: deactivatedAt - 1000, deactivatedAt, ...extra
      })

      test('add and list, newest deactivation first, ties by node then name', async (t) => {
        const { store } = await open(t)
        assert.deepEqual(await store.alarmHistory.list(), [])
        const a = entry('high_memory', 1_700_000_001_000)
        const b = entry('store_unavailable', 1_700_000_003_000, { severity: 'critical' })
        const c = entry('high_memory', 1_700_000_003_000, { node: 'n0@h' })
        for (const e of [a, b, c]) await store.alarmHistory.add(e, 100)
        assert.deepEqual(await store.alarmHistory.list(), [c, b, a])
      })

      test('the same (node, name, activatedAt) is kept once; raised again later is a new entry', async (t) => {
        const { store } = await open(t)
        const e = entry('x', 1_700_000_005_000)
        await store.alarmHistory.add(e, 100)
        await store.alarmHistory.add({ ...e, message: 'retried' }, 100)
        await Promise.all(Array.from({ length: 4 }, async () => await store.alarmHistory.add(e, 100)))
        assert.deepEqual(await store.alarmHistory.list(), [e])
        const again = entry('x', 1_700_000_009_000, { activatedAt: 1_700_000_008_000 })
        await store.alarmHistory.add(again, 100)
        assert.deepEqual(await store.alarmHistory.list(), [again, e])
      })

      test('only the `keep` newest entries stay', async (t) => {
        const { store } = await open(t)
        for (let i = 1; i <= 7; i++) await store.alarmHistory.add(entry(`a${i}`, 1_700_000_000_000 + i * 1000), 5)
        assert.deepEqual((await store.alarmHistory.list()).map(e => e.name), ['a7', 'a6', 'a5', 'a4', 'a3'])
        await store.alarmHistory.add(entry('a0', 1_600_000_000_000), 5)
        assert.deepEqual((await store.alarmHistory.list()).map(e => e.name), ['a7', 'a6', 'a5', 'a4', 'a3'], 'an older one than all kept is dropped at once')
      })

      test('clear removes every entry and says how many; values never act as query operators', async (t) => {
        const { store } = await open(t)
        await store.alarmHistory.add(entry('a', 1_700_000_001_000), 10)
        await store.alarmHistory.add(entry('b', 1_700_000_002_000), 10)
        await store.alarmHistory.add(entry(operator, 1_700_000_003_000, { node: operator }), 10)
        assert.equal((await store.alarmHistory.list()).length, 3)
        assert.equal(await store.alarmHistory.clear(), 3)
        assert.deepEqual(await store.alarmHistory.list(), [])
        assert.equal(await store.alarmHistory.clear(), 0)
      })

      test('entries survive close and reopen', async (t) => {
        const { store, reopen } = await open(t)
        const e = entry('kept', 1_700_000_001_000)
        await store.alarmHistory.add(e, 10)
        await store.close()
        const again = reopen()
        await again.init()
        assert.deepEqual(await again.alarmHistory.list(), [e])
      })
    })

    describe('members', () => {
      test('claim inserts, list is sorted by name, get finds one', async (t) => {
        const { store } = await open(t)
        assert.deepEqual(await store.members.list(), [])
        assert.equal(await store.members.claim(member('n2@h'), 0), true)
        assert.equal(await store.members.claim(member('n1@h'), 0), true)
        assert.deepEqual(await store.members.list(), [member('n1@h'), member('n2@h')])
        assert.deepEqual(await store.members.get('n2@h'), member('n2@h'))
        assert.equal(await store.members.get('absent@h'), null)
      })

      test('a live holder keeps its name; a stale, stopped or same instance is replaced', async (t) => {
        const { store } = await open(t)
        const hb = 1_700_000_005_000
        await store.members.claim(member('n@h'), 0)
        // another instance while the holder's heartbeat is fresh: refused, nothing written
        assert.equal(await store.members.claim(member('n@h', { instance: 'other', apiUrl: 'x' }), hb - 1000), false)
        assert.deepEqual(await store.members.get('n@h'), member('n@h'))
        // the same instance may re-claim (e.g. after its entry was taken over and given back)
        assert.equal(await store.members.claim(member('n@h', { apiUrl: 'y' }), hb - 1000), true)
        // heartbeat older than staleBefore: replaced
        assert.equal(await store.members.claim(member('n@h', { instance: 'other' }), hb + 1), true)
        assert.equal((await store.members.get('n@h'))?.instance, 'other')
        // stopped cleanly: replaced at once
        assert.equal(await store.members.heartbeat('n@h', 'other', hb, false), true)
        assert.equal(await store.members.claim(member('n@h', { instance: 'third' }), 0), true)
        assert.equal((await store.members.get('n@h'))?.instance, 'third')
      })

      test('concurrent claims of a free name: exactly one wins', async (t) => {
        const { store } = await open(t)
        const results = await Promise.all(['a', 'b', 'c', 'd'].map(async i => await store.members.claim(member('race@h', { instance: i }), 0)))
        assert.equal(results.filter(Boolean).length, 1)
        const winner = ['a', 'b', 'c', 'd'][results.indexOf(true)]
        assert.equal((await store.members.get('race@h'))?.instance, winner)
      })

      test('heartbeat updates only the instance holding the name; delete removes', async (t) => {
        const { store } = await open(t)
        await store.members.claim(member('n@h'), 0)
        assert.equal(await store.members.heartbeat('n@h', 'i-n@h', 1_800_000_000_000, true), true)
        assert.equal((await store.members.get('n@h'))?.heartbeatAt, 1_800_000_000_000)
        assert.equal(await store.members.heartbeat('n@h', 'not-me', 1_900_000_000_000, true), false)
        assert.equal(await store.members.heartbeat('absent@h', 'i', 1, true), false)
        assert.equal((await store.members.get('n@h'))?.heartbeatAt, 1_800_000_000_000)
        assert.equal(await store.members.delete('n@h'), true)
        assert.equal(await store.members.delete('n@h'), false)
        assert.deepEqual(await store.members.list(), [])
      })

      test('request values never act as query operators', async (t) => {
        const { store } = await open(t)
        await store.members.claim(member('n@h'), 0)
        await assertNoMatch(store.members.get(operator), null)
        await assertNoMatch(store.members.heartbeat(operator, operator, 1, true), false)
        await assertNoMatch(store.members.delete(operator), false)
        assert.deepEqual(await store.members.list(), [member('n@h')])
      })
    })

    describe('roles of apps and users', () => {
      test('a role is stored, returned and changed by update alone', async (t) => {
        const { store } = await open(t)
        await store.apps.insert(app('a1', { role: 'publisher' }))
        await store.users.insert(user('u1', { role: 'viewer' }))
        assert.equal((await store.apps.get('a1'))?.role, 'publisher')
        assert.equal((await store.users.get('u1'))?.role, 'viewer')
        assert.deepEqual(await store.apps.update('a1', { role: 'administrator' }), app('a1', { role: 'administrator' }))
        assert.deepEqual(await store.users.update('u1', { role: 'publisher' }), user('u1', { role: 'publisher' }))
        // another field's update leaves the role alone
        assert.deepEqual(await store.users.update('u1', { tags: 't' }), user('u1', { role: 'publisher', tags: 't' }))
        assert.deepEqual(await store.apps.update('a1', { name: 'n' }), app('a1', { role: 'administrator', name: 'n' }))
      })
    })

    describe('audit', () => {
      const rec = (n: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
        id: `${String(1_700_000_000_000 + n).padStart(15, '0')}-${String(n).padStart(12, '0')}-abcd`,
        timestamp: 1_700_000_000_000 + n,
        node: 'emqx@127.0.0.1',
        event: 'request',
        actor: n % 2 === 0 ? 'admin' : 'ops',
        role: 'administrator',
        sourceIp: '10.0.0.1',
        method: 'POST',
        operation: n % 3 === 0 ? 'create_user' : 'add_app',
        pathParams: { name: `u${n}` },
        body: { n, nested: { list: [1, 'two', null] } },
        status: n % 5 === 0 ? 409 : 200,
        ...extra
      })

      test('append then list: newest first, paged, count of all matching', async (t) => {
        const { store } = await open(t)
        await store.audit.append([rec(1), rec(2), rec(3)])
        await store.audit.append([rec(4), rec(5)])
        const all = await store.audit.list({}, 0, 10)
        assert.equal(all.count, 5)
        assert.deepEqual(all.items, [rec(5), rec(4), rec(3), rec(2), rec(1)])
        const page2 = await store.audit.list({}, 2, 2)
        assert.deepEqual(page2, { count: 5, items: [rec(3), rec(2)] })
        assert.deepEqual(await store.audit.list({}, 10, 2), { count: 5, items: [] })
      })

      test('filters: actor, operation, status and an inclusive time range, combined', async (t) => {
        const { store } = await open(t)
        await store.audit.append(Array.from({ length: 12 }, (_, i) => rec(i + 1)))
        const ids = async (f: Parameters<Store['audit']['list']>[0]): Promise<number[]> =>
          (await store.audit.list(f, 0, 100)).items.map(r => (r.body as { n: number }).n)
        assert.deepEqual(await ids({ actor: 'ops' }), [11, 9, 7, 5, 3, 1])
        assert.deepEqual(await ids({ operation: 'create_user' }), [12, 9, 6, 3])
        assert.deepEqual(await ids({ status: 409 }), [10, 5])
        assert.deepEqual(await ids({ fromMs: 1_700_000_000_004, toMs: 1_700_000_000_006 }), [6, 5, 4])
        assert.deepEqual(await ids({ actor: 'admin', operation: 'create_user', fromMs: 1_700_000_000_007 }), [12])
        assert.equal((await store.audit.list({ actor: 'ops', status: 200 }, 0, 1)).count, 5)
      })

      test('trim keeps the newest max records', async (t) => {
        const { store } = await open(t)
        await store.audit.append(Array.from({ length: 10 }, (_, i) => rec(i + 1)))
        assert.equal(await store.audit.trim(20), 0)
        assert.equal(await store.audit.trim(4), 6)
        assert.deepEqual((await store.audit.list({}, 0, 100)).items, [rec(10), rec(9), rec(8), rec(7)])
        assert.equal(await store.audit.trim(4), 0)
      })

      test('request values never act as query operators; odd keys and values stay literal', async (t) => {
        const { store } = await open(t)
        const odd = rec(1, { actor: '$where', pathParams: { 'a.b': '$x' }, body: { $ne: null, 'x.y': ['$gt'] } })
        await store.audit.append([odd])
        assert.deepEqual((await store.audit.list({ actor: '$where' }, 0, 10)).items, [odd])
        await assertNoMatch(store.audit.list({ actor: operator }, 0, 10).then(r => r.count), 0)
        await assertNoMatch(store.audit.list({ operation: operator }, 0, 10).then(r => r.count), 0)
      })
    })

    test('data survives close() and a new store on the same backend', async (t) => {
      const { store, reopen } = await open(t)
      await store.apps.insert(app('keep', { expired: 1_900_000_000 }))
      await store.users.insert(user('keeper'))
      await store.banned.put(ban('ip_address', '10.1.1.1', { until: 1_900_000_000 }))
      await store.kv.set('hot_config', 'k', { v: [1, 2] })
      await store.members.claim(member('n@h'), 0)
      await store.audit.append([{ id: '1', timestamp: 1, node: 'n@h', event: 'login_failed', actor: 'x', role: 'none', sourceIp: '::1', method: 'GET', operation: 'list_users', pathParams: {}, body: null, status: 401 }])
      await store.acl.add([rule('ipaddress', '10.0.0.0/8', 'a/%u', 1_700_000_000_000_001, { access: 'deny' })])
      await store.close()

      const again = reopen()
      await again.init()
      assert.deepEqual(await again.apps.list(), [app('keep', { expired: 1_900_000_000 })])
      assert.deepEqual(await again.users.list(), [user('keeper')])
      assert.equal(await again.users.count(), 1)
      assert.deepEqual(await again.banned.list(), [ban('ip_address', '10.1.1.1', { until: 1_900_000_000 })])
      assert.deepEqual(await again.kv.all('hot_config'), { k: { v: [1, 2] } })
      assert.deepEqual(await again.members.list(), [member('n@h')])
      assert.deepEqual((await again.audit.list({}, 0, 10)).items, [{ id: '1', timestamp: 1, node: 'n@h', event: 'login_failed', actor: 'x', role: 'none', sourceIp: '::1', method: 'GET', operation: 'list_users', pathParams: {}, body: null, status: 401 }])
      assert.deepEqual(await again.acl.list(), [rule('ipaddress', '10.0.0.0/8', 'a/%u', 1_700_000_000_000_001, { access: 'deny' })])
      await again.ping()
    })
  })
}
