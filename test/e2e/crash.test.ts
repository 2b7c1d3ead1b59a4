// A SIGKILL during a burst of API writes leaves no half-written record: every write the API
// acknowledged is there after a restart, and every record there is whole.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { call, processStores, startProcess, stop, type Proc } from '../process.js'

const WRITERS = 8

for (const store of processStores('crash')) {
  test(`${store.name}: SIGKILL during a burst of API writes`, { timeout: 120000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crash-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { ...store.env, DATA_DIR: dataDir }
    let p: Proc = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    const acked = new Map<string, string>()
    const bannedAcked: string[] = []
    let n = 0
    const burst = { killed: false }
    const writer = async (): Promise<void> => {
      while (!burst.killed) {
        const i = n++
        try {
          const app = await call(p, 'POST', '/apps', { app_id: `app-${i}`, name: `name-${i}`, desc: 'd'.repeat(200) })
          if (app.status === 200) acked.set(`app-${i}`, app.body.secret)
          const ban = await call(p, 'POST', '/banned', { who: `c-${i}`, as: 'client_id', reason: 'r'.repeat(100) })
          if (ban.status === 200) bannedAcked.push(`c-${i}`)
        } catch { /* the connection died with the process */ }
      }
    }
    const writers = Array.from({ length: WRITERS }, writer)
    while (acked.size < 40) await new Promise(resolve => setTimeout(resolve, 10))
    burst.killed = true
    p.child.kill('SIGKILL')
    await Promise.all(writers)
    await stop(p)

    p = await startProcess(env)
    const apps = (await call(p, 'GET', '/apps')).body as Array<{ app_id: string, name: string, desc: string, status: boolean }>
    const byId = new Map(apps.map(a => [a.app_id, a]))
    for (const [id, secret] of acked) {
      assert.ok(byId.has(id), `acknowledged ${id} is missing`)
      assert.equal((await call(p, 'GET', '/brokers', undefined, `${id}:${secret}`)).status, 200, `${id} cannot authenticate`)
    }
    for (const a of apps) {
      const i = a.app_id.slice('app-'.length)
      assert.deepEqual(a, { app_id: `app-${i}`, name: `name-${i}`, desc: 'd'.repeat(200), status: true, role: 'administrator' }, 'a record is whole')
    }
    const bans = (await call(p, 'GET', '/banned')).body.items as Array<{ who: string, reason: string }>
    const banned = new Set(bans.map(b => b.who))
    for (const who of bannedAcked) assert.ok(banned.has(who), `acknowledged ban ${who} is missing`)
    for (const b of bans) assert.equal(b.reason, 'r'.repeat(100))
    assert.equal(await stop(p), 0)
  })
}
