// Plugin states, plugin configs and pending delayed messages survive a restart on the same DATA_DIR.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestNode, testStore } from '../helpers.js'
import { eventually } from '../support/wait.js'

const skip = testStore === 'mongo' ? 'a restart reuses DATA_DIR; the mongo test store is a fresh database per node' : false

test('every plugin\'s load/unload state survives a restart, and behaves accordingly', { skip }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-plugins-restart-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const flipped = { emqx_auth_clientid: true, emqx_auth_username: true, emqx_delayed_publish: false, emqx_retainer: false, emqx_web_hook: true }
  await t.test('before the restart', async (t1) => {
    const n = await startTestNode(t1, {}, { dataDir })
    await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_auth_username`, { body: { 'auth.user.1.username': 'alice', 'auth.user.1.password': 'pw' } })
    for (const [name, on] of Object.entries(flipped)) {
      assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/${name}/${on ? 'load' : 'unload'}`)).body, 'ok')
    }
  })
  const n = await startTestNode(t, {}, { dataDir })
  const states = Object.fromEntries((await n.api('GET', `/nodes/${n.nodeName}/plugins`)).body.map((p: any) => [p.name, p.active]))
  assert.deepEqual(states, { ...flipped, emqx_dashboard: true, emqx_management: true })
  await assert.rejects(n.client({ clientId: 'a1', username: 'alice', password: 'wrong' }), /bad user ?name or password/i)
  const c = await n.client({ clientId: 'a2', username: 'alice', password: 'pw' })
  const got: string[] = []
  c.on('message', (topic, _p, packet) => got.push(`${topic}${packet.retain ? ' (retained)' : ''}`))
  await n.api('POST', '/mqtt/publish', { body: { topic: 'keep', payload: 'x', retain: true } })
  await c.subscribeAsync(['keep', '$delayed/#'])
  await c.publishAsync('$delayed/1/t', 'now', { qos: 1 })
  await eventually(() => got.length === 1)
  assert.deepEqual(got, ['$delayed/1/t'], 'no retained message, and $delayed is an ordinary topic')
})

test('a delayed message pending at shutdown is published after the restart', { skip }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-delayed-restart-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let sent = 0
  await t.test('before the restart', async (t1) => {
    const n = await startTestNode(t1, {}, { dataDir })
    sent = Date.now()
    assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: '$delayed/2/later', payload: 'kept', qos: 1 } })).body, { code: 0 })
  })
  const n = await startTestNode(t, {}, { dataDir })
  const c = await n.client({ clientId: 'waiting' })
  const got: Array<{ topic: string, at: number }> = []
  c.on('message', (topic) => got.push({ topic, at: Date.now() }))
  await c.subscribeAsync('later')
  const first = await eventually(() => got[0], 5000)
  assert.equal(first.topic, 'later')
  assert.ok(first.at - sent >= 1800, 'not before its due time')
})
