// GET /status (the seed's shape), ?format=json with every part, /status/live and /status/ready,
// on a running node and with its MongoDB going away and coming back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'
import { MONGO, behindProxy } from '../store-proxy.js'

const get = async (base: string, path: string): Promise<{ status: number, body: any, headers: Headers }> => {
  const res = await fetch(base.replace('/api/v3', '') + path)
  return { status: res.status, body: await res.json(), headers: res.headers }
}

test('a running node: /status keeps its shape, ?format=json has every part, live and ready answer 200', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'h-1' })
  const plain = await get(n.base, '/status')
  assert.deepEqual([plain.status, plain.body], [200, { node: n.nodeName, status: 'running', store: 'ok' }])

  const json = await get(n.base, '/status?format=json')
  assert.equal(json.status, 200)
  assert.equal(json.headers.get('cache-control'), 'no-store')
  const b = json.body
  assert.deepEqual([b.node, b.status, b.store, b.broker_status, b.app_status, b.state, b.ready], [n.nodeName, 'running', 'ok', 'started', 'running', 'running', true])
  assert.match(b.rel_vsn, /^\d+\.\d+\.\d+/)
  assert.deepEqual(b.parts.store, { kind: n.node.store.kind, status: 'ok' })
  assert.deepEqual(b.parts.listeners.map((l: any) => [l.protocol, l.status]), [['mqtt:tcp', 'up'], ['mqtt:ws', 'up'], ['http:management', 'up']])
  const tcp = b.parts.listeners.find((l: any) => l.protocol === 'mqtt:tcp')
  assert.equal(tcp.current_conns, 1)
  assert.equal(tcp.listen_on, `127.0.0.1:${n.node.ports.mqtt}`)
  assert.deepEqual(b.parts.cluster, { enabled: false, status: 'ok', members: [] })
  // the default admin password raises a warning alarm on a fresh node
  assert.equal(b.parts.alarms.status, 'warning')
  assert.deepEqual(b.parts.alarms.active.map((a: any) => a.id), ['default_admin_password'])

  const bad = await get(n.base, '/status?format=xml')
  assert.deepEqual([bad.status, bad.body.code], [400, 108])
  assert.deepEqual(await get(n.base, '/status/live').then(r => [r.status, r.body]), [200, { node: n.nodeName, status: 'live', state: 'running' }])
  assert.deepEqual(await get(n.base, '/status/ready').then(r => [r.status, r.body]), [200, { node: n.nodeName, status: 'ready', state: 'running', reasons: [] }])
  // no credentials are needed, and none are asked for
  assert.equal((await fetch(n.base.replace('/api/v3', '/status/ready'), { headers: { authorization: 'Basic eDp5' } })).status, 200)
})

test('MongoDB away: /status and ready are 503 and say why, live stays 200; back: all 200 again', { skip: MONGO ? false : 'MONGODB_TEST_URL not set', timeout: 120000 }, async (t) => {
  const { proxy, n } = await behindProxy(t, 'health')
  assert.equal((await get(n.base, '/status/ready')).status, 200)
  await proxy.cut()
  const ready = await get(n.base, '/status/ready')
  assert.deepEqual([ready.status, ready.body.status, ready.body.reasons], [503, 'not_ready', ['store_unavailable']])
  assert.deepEqual((await get(n.base, '/status')).body, { node: n.nodeName, status: 'running', store: 'unavailable' })
  const json = await get(n.base, '/status?format=json')
  assert.equal(json.status, 503)
  assert.deepEqual([json.body.app_status, json.body.ready, json.body.parts.store.status], ['degraded', false, 'unavailable'])
  assert.equal(json.body.parts.alarms.status, 'critical')
  assert.ok(json.body.parts.alarms.active.some((a: any) => a.id === 'store_unavailable'))
  assert.equal((await get(n.base, '/status/live')).status, 200)

  await proxy.open()
  await eventually(async () => (await get(n.base, '/status/ready')).status === 200, 30000)
  const back = await get(n.base, '/status?format=json')
  assert.deepEqual([back.status, back.body.parts.store.status, back.body.parts.alarms.active.some((a: any) => a.id === 'store_unavailable')], [200, 'ok', false])
})
