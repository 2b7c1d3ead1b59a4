// Brokers, nodes, listeners, metrics, stats, the index, /status and the error paths of one node.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHook } from 'node:async_hooks'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { loadConfig } from '../../src/config.js'
import { startNode } from '../../src/node.js'
import { startTestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

test('brokers and nodes describe the running process', async (t) => {
  const n = await startTestNode(t, { NODE_NAME: 'emqx@10.0.0.7' })
  const brokers = await n.api('GET', '/brokers/')
  assert.equal(brokers.body.length, 1)
  assert.equal(brokers.body[0].node, 'emqx@10.0.0.7')
  assert.equal(brokers.body[0].node_status, 'Running')
  assert.match(brokers.body[0].uptime, /seconds$/)
  const one = await n.api('GET', '/brokers/emqx@10.0.0.7')
  assert.equal(one.body.node, undefined)
  assert.equal(one.body.sysdescr, 'EMQ X Broker')
  assert.equal((await n.api('GET', '/brokers/nobody@nowhere')).status, 404)
  await n.client({ clientId: 'one' })
  const node = await eventually(async () => {
    const r = await n.api('GET', '/nodes/emqx@10.0.0.7')
    return r.body.connections === 1 ? r.body : null
  })
  assert.equal(typeof node.memory_total, 'number')
  assert.ok(node.memory_total > 0)
  const list = await n.api('GET', '/nodes')
  assert.match(list.body[0].memory_total, /^\d+\.\d\d[KMG]$/)
  assert.equal(list.body[0].node, 'emqx@10.0.0.7')
})

test('GET /api/v3/ lists the seed\'s 55 operations in the seed\'s order, and the additions beyond them (operations.test.ts names those)', async (t) => {
  const n = await startTestNode(t)
  const seed = JSON.parse(readFileSync(new URL('../fixtures/seed-index.json', import.meta.url), 'utf8')) as Array<{ name: string, path: string }>
  const listed = (await n.api('GET', '/')).body as Array<{ name: string, path: string }>
  assert.deepEqual(listed.filter(e => seed.some(s => s.name === e.name && s.path === e.path)), seed)
})

test('metrics and stats move by the exact amounts of a known exchange', async (t) => {
  const n = await startTestNode(t)
  const before = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body
  const sub = await n.client({ clientId: 'm-sub' })
  await sub.subscribeAsync('m/t', { qos: 1 })
  const pub = await n.client({ clientId: 'm-pub' })
  const got = new Promise(resolve => sub.once('message', resolve))
  await pub.publishAsync('m/t', 'payload', { qos: 1 })
  await got
  const after = await eventually(async () => {
    const m = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body
    return m['packets/puback/received'] - before['packets/puback/received'] === 1 ? m : null
  })
  const d = (k: string): number => after[k] - before[k]
  assert.equal(d('packets/connect'), 2)
  assert.equal(d('packets/connack'), 2)
  assert.equal(d('packets/subscribe'), 1)
  assert.equal(d('packets/suback'), 1)
  assert.equal(d('packets/publish/received'), 1)
  assert.equal(d('packets/publish/sent'), 1)
  assert.equal(d('packets/puback/sent'), 1)
  assert.equal(d('messages/qos1/received'), 1)
  assert.equal(d('messages/qos1/sent'), 1)
  const stats = (await n.api('GET', '/stats')).body[0]
  assert.equal(stats.node, n.nodeName)
  assert.equal(stats['connections/count'], 2)
  assert.equal(stats['subscriptions/count'], 1)
  assert.equal(stats['routes/count'], 1)
  await pub.endAsync()
  const later = await eventually(async () => {
    const s = (await n.api('GET', `/nodes/${n.nodeName}/stats`)).body
    return s['connections/count'] === 1 ? s : null
  })
  assert.equal(later['connections/max'], 2)
})

test('listeners show real ports and current connections', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'l1' })
  await n.client({ clientId: 'l2', ws: true })
  const ls = await eventually(async () => {
    const r = await n.api('GET', '/listeners')
    const l = r.body[0].listeners
    return l.find((x: any) => x.protocol === 'mqtt:tcp').current_conns === 1 && l.find((x: any) => x.protocol === 'mqtt:ws').current_conns === 1 ? l : null
  })
  assert.ok(ls.find((x: any) => x.protocol === 'mqtt:tcp').listen_on.endsWith(`:${n.node.ports.mqtt}`))
  assert.ok(ls.some((x: any) => x.protocol === 'http:management'))
})

test('/status needs no credentials; the API needs them, with a Basic challenge', async (t) => {
  const n = await startTestNode(t)
  const status = await fetch(n.base.replace('/api/v3', '/status'))
  assert.equal(status.status, 200)
  assert.equal((await status.json() as { store: string }).store, 'ok')
  const noAuth = await n.api('GET', '/brokers', { auth: null })
  assert.equal(noAuth.status, 401)
  assert.match(noAuth.headers.get('www-authenticate') ?? '', /^Basic realm=/)
  assert.deepEqual(noAuth.body, { message: 'unauthorized', code: 103 })
  const wrong = await n.api('GET', '/brokers', { auth: { user: 'admin', pass: 'nope' } })
  const unknown = await n.api('GET', '/brokers', { auth: { user: 'nobody', pass: 'nope' } })
  assert.deepEqual([wrong.status, wrong.body], [unknown.status, unknown.body])
  const garbage = await n.api('GET', '/brokers', { auth: null, headers: { authorization: 'Basic !!!' } })
  assert.equal(garbage.status, 401)
})

test('bad requests: unknown path, bad paging, huge body, unknown node: clear errors, never a 500', async (t) => {
  const n = await startTestNode(t, { API_BODY_LIMIT: '1kb' })
  assert.deepEqual((await n.api('GET', '/nope')).body, { message: 'not_found', code: 102 })
  assert.equal((await n.api('PATCH', '/brokers')).status, 404)
  for (const q of ['_page=abc', '_page=0', '_limit=0', '_limit=-1', '_limit=1.5', '_page=1&_page=2', 'unknown=1']) {
    const r = await n.api('GET', `/connections?${q}`)
    assert.equal(r.status, 400, q)
    assert.equal(r.body.code, 108, q)
  }
  const big = await n.api('POST', '/mqtt/publish', { body: { topic: 't', payload: 'x'.repeat(4096) } })
  assert.deepEqual([big.status, big.body.code], [413, 102])
  assert.equal((await n.api('GET', '/nodes/ghost@nowhere/metrics')).status, 404)
  assert.equal((await n.api('GET', '/nodes/ghost@nowhere/stats')).status, 404)
  assert.equal((await n.api('GET', '/alarms/ghost@nowhere')).status, 404)
})

/**
 * The async resources (timers, also unref'd ones, sockets, servers) created while `run` runs that are
 * still alive a moment after it settled. One-shot requests (random bytes, file reads) are left out:
 * they end by themselves.
 */
async function leftOpen (run: () => Promise<unknown>): Promise<{ result: PromiseSettledResult<unknown>, alive: string[] }> {
  const alive = new Map<number, string>()
  let recording = true
  const hook = createHook({
    init (id, type) { if (recording && type !== 'PROMISE' && !type.includes('REQ')) alive.set(id, type) },
    destroy (id) { alive.delete(id) }
  }).enable()
  try {
    const [result] = await Promise.allSettled([run()])
    recording = false
    await new Promise(resolve => setTimeout(resolve, 200))
    return { result: result!, alive: [...alive.values()].sort() }
  } finally {
    hook.disable()
  }
}

test('a start that fails after the store opened (the MQTT port is taken) leaves nothing open: no timer, socket or file lock', async (t) => {
  const blocker = net.createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-api-test-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { MQTT_PORT: String((blocker.address() as AddressInfo).port), MQTT_WS_PORT: '0', API_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }
  const { result, alive } = await leftOpen(async () => await startNode(loadConfig(env), pino({ level: 'silent' })))
  assert.equal(result.status, 'rejected')
  assert.equal((result as PromiseRejectedResult).reason.code, 'EADDRINUSE')
  // the services' timers and the broker's were all stopped
  assert.deepEqual(alive, [])
  // the store and the MQTT session file are not held: another node opens them
  const again = await startNode(loadConfig({ ...env, MQTT_PORT: '0' }), pino({ level: 'silent' }))
  await again.close()
})
