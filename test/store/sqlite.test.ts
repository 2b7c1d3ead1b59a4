import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { SQLITE_FILE, SqliteStore } from '../../src/store/sqlite.js'
import { StoreUnavailableError } from '../../src/store/store.js'
import { storeSuite } from './store.suite.js'

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'emqx-api-sqlite-'))

storeSuite('sqlite', async () => {
  const dir = tempDir()
  return {
    store: new SqliteStore({ dataDir: dir }),
    reopen: () => new SqliteStore({ dataDir: dir }),
    cleanup: async () => { rmSync(dir, { recursive: true, force: true }) }
  }
})

describe('SqliteStore specifics', () => {
  test('init creates dataDir (mkdir -p) and the db file in it', async (t) => {
    const root = tempDir()
    t.after(() => { rmSync(root, { recursive: true, force: true }) })
    const dataDir = join(root, 'nested', 'data')
    const store = new SqliteStore({ dataDir })
    t.after(async () => { await store.close() })
    assert.equal(store.kind, 'sqlite')
    assert.equal(existsSync(dataDir), false)
    await store.init()
    assert.equal(existsSync(join(dataDir, SQLITE_FILE)), true)
    assert.equal(store.file, join(dataDir, SQLITE_FILE))
  })

  test('uses WAL journal mode', async (t) => {
    const dir = tempDir()
    t.after(() => { rmSync(dir, { recursive: true, force: true }) })
    const store = new SqliteStore({ dataDir: dir })
    t.after(async () => { await store.close() })
    await store.init()
    await store.kv.set('ns', 'k', 1)
    // the -wal file only exists in WAL mode
    assert.equal(existsSync(join(dir, `${SQLITE_FILE}-wal`)), true)
  })

  test('calls on a closed or never opened store reject with StoreUnavailableError', async (t) => {
    const dir = tempDir()
    t.after(() => { rmSync(dir, { recursive: true, force: true }) })
    const store = new SqliteStore({ dataDir: dir })
    await assert.rejects(store.ping(), StoreUnavailableError)
    await store.init()
    await store.ping()
    await store.close()
    await assert.rejects(store.apps.list(), StoreUnavailableError)
    await assert.rejects(store.ping(), StoreUnavailableError)
  })
})
