/**
 * MongoStore against a MongoDB-wire server (FerretDB in CI: scripts/ferretdb.sh).
 * The unreachable-server tests need no server and always run.
 */
import { randomBytes } from 'node:crypto'
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MongoClient } from 'mongodb'
import { MongoStore } from '../../src/store/mongo.js'
import type { MongoStoreOptions } from '../../src/store/mongo.js'
import { StoreUnavailableError } from '../../src/store/store.js'
import type { Store } from '../../src/store/store.js'
import { storeSuite } from './store.suite.js'

const URL_ENV = process.env['MONGODB_TEST_URL']
const SKIP = 'MONGODB_TEST_URL not set: start FerretDB with scripts/ferretdb.sh'

/** unique per store so parallel runs never share data; FerretDB allows [a-z0-9_-], 63 chars */
const uniqueDbName = (): string => `emqx_api_test_${process.pid}_${randomBytes(6).toString('hex')}`

/** rejects if `p` has not settled after `ms`, so a hanging call fails the test instead of blocking it */
async function within<T> (ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`did not settle within ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function assertUnavailable (p: Promise<unknown>, maxMs: number): Promise<void> {
  const started = Date.now()
  await assert.rejects(within(maxMs, p), StoreUnavailableError)
  assert.ok(Date.now() - started < maxMs, `took ${Date.now() - started} ms`)
}

async function listen (server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  assert.ok(addr !== null && typeof addr === 'object')
  return addr.port
}

/** a TCP server whose sockets can all be cut at once, to simulate the database going away */
function trackedServer (onSocket: (s: Socket) => void): { server: Server, stop: () => Promise<void> } {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    onSocket(s)
  })
  const stop = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  return { server, stop }
}

describe('MongoStore with an unreachable server', () => {
  const calls = (store: Store): Array<[string, () => Promise<unknown>]> => [
    ['ping', async () => await store.ping()],
    ['apps.list', async () => await store.apps.list()],
    ['apps.insert', async () => await store.apps.insert({ app_id: 'a', name: 'n', desc: '', status: true, expired: null, secretHash: 'h', role: 'viewer' })],
    ['users.count', async () => await store.users.count()],
    ['banned.deleteExpired', async () => await store.banned.deleteExpired(0)],
    ['kv.set', async () => { await store.kv.set('ns', 'k', 1) }]
  ]

  test('closed port: every call rejects with StoreUnavailableError within ~2 s', async (t) => {
    const store = new MongoStore({ url: 'mongodb://127.0.0.1:1/', timeoutMs: 500, initRetries: 2 })
    t.after(async () => { await store.close() })
    assert.equal(store.kind, 'mongo')
    await assertUnavailable(store.init(), 2500)
    for (const [name, call] of calls(store)) {
      await t.test(name, async () => { await assertUnavailable(call(), 2000) })
    }
  })

  test('server that accepts but never answers: calls reject in bounded time', async (t) => {
    const { server, stop } = trackedServer(() => {})
    const port = await listen(server)
    t.after(stop)
    const store = new MongoStore({ url: `mongodb://127.0.0.1:${port}/`, timeoutMs: 500, initRetries: 1 })
    t.after(async () => { await store.close() })
    await assertUnavailable(store.init(), 2000)
    await assertUnavailable(store.apps.get('x'), 2000)
  })
})

// a skipped test (not a skipped suite) so the skip shows up in the summary counts too
if (URL_ENV === undefined) {
  test('MongoStore against MONGODB_TEST_URL', { skip: SKIP }, () => {})
} else {
  describe('MongoStore against MONGODB_TEST_URL', () => { serverTests(URL_ENV) })
}

function serverTests (url: string): void {
  const admin = new MongoClient(url, { serverSelectionTimeoutMS: 5000 })
  after(async () => { await admin.close() })

  const make = (dbName: string, extra: Partial<MongoStoreOptions> = {}): MongoStore =>
    new MongoStore({ url, dbName, timeoutMs: 3000, ...extra })

  storeSuite('mongo', async () => {
    const dbName = uniqueDbName()
    return {
      store: make(dbName),
      reopen: () => make(dbName),
      cleanup: async () => { await admin.db(dbName).dropDatabase() }
    }
  })

  test('init creates the unique indexes', async (t) => {
    const dbName = uniqueDbName()
    const store = make(dbName)
    const second = make(dbName)
    t.after(async () => {
      await store.close()
      await second.close()
      await admin.db(dbName).dropDatabase()
    })
    await store.init()
    const keysOf = async (coll: string): Promise<unknown[]> =>
      (await admin.db(dbName).collection(coll).indexes()).filter((i) => i.unique === true).map((i) => i.key)
    assert.deepEqual(await keysOf('apps'), [{ app_id: 1 }])
    assert.deepEqual(await keysOf('users'), [{ username: 1 }])
    assert.deepEqual(await keysOf('banned'), [{ as: 1, who: 1 }])
    assert.deepEqual(await keysOf('kv'), [{ ns: 1, key: 1 }])
    // a second store on the same database: init is idempotent when the indexes exist
    await second.init()
  })

  test('recovers by itself after the server goes away and comes back', async (t) => {
    const target = hostPort(url)
    const proxy = (): { server: Server, stop: () => Promise<void> } => trackedServer((client) => {
      const upstream = createConnection(target)
      client.pipe(upstream).pipe(client)
      const close = (): void => { client.destroy(); upstream.destroy() }
      client.on('error', close)
      upstream.on('error', close)
      client.on('close', close)
      upstream.on('close', close)
    })

    let p = proxy()
    const port = await listen(p.server)
    const dbName = uniqueDbName()
    const store = new MongoStore({ url: `mongodb://127.0.0.1:${port}/?directConnection=true`, dbName, timeoutMs: 1000 })
    t.after(async () => { await store.close(); await p.stop(); await admin.db(dbName).dropDatabase() })
    await store.init()
    assert.equal(await store.apps.insert({ app_id: 'a1', name: 'n', desc: '', status: true, expired: null, secretHash: 'h', role: 'viewer' }), true)

    await p.stop()
    await assertUnavailable(store.apps.list(), 3000)
    await assertUnavailable(store.kv.set('ns', 'k', 1), 3000)

    p = proxy()
    await listen(p.server, port)
    // the driver's monitor needs a heartbeat to see the server again; poll briefly
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        assert.deepEqual((await store.apps.list()).map((a) => a.app_id), ['a1'])
        break
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err
      }
    }
    await store.kv.set('ns', 'k', 2)
    assert.equal(await store.kv.get('ns', 'k'), 2)
  })
}

/** host and port of the first host in a mongodb:// URL */
function hostPort (url: string): { host: string, port: number } {
  const m = /^mongodb:\/\/(?:[^@/]*@)?([^/:,?]+)(?::(\d+))?/.exec(url)
  assert.ok(m !== null, `cannot parse ${url}`)
  return { host: m[1] ?? '127.0.0.1', port: Number(m[2] ?? 27017) }
}
