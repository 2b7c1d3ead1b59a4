// Readiness follows the node's lifecycle and its store (sources are stand-ins here; the e2e test uses a real node).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Health } from '../../src/services/health.js'

function health (storeOk: () => boolean): Health {
  return new Health({
    node: 'n@h',
    version: '1.0.0',
    storeKind: 'sqlite',
    store: { check: async () => storeOk() },
    listeners: () => [{ protocol: 'mqtt:tcp', listen_on: '127.0.0.1:1883', listening: false, current_conns: 0, max_conns: 10 }],
    members: async () => [{ name: 'n@h', live: true }, { name: 'm@h', live: false }],
    alarms: () => []
  })
}

test('starting and draining are not ready, running with a store is; live is always 200', async () => {
  let ok = true
  const h = health(() => ok)
  assert.deepEqual(await h.ready(), { code: 503, body: { node: 'n@h', status: 'not_ready', state: 'starting', reasons: ['starting'] } })
  assert.equal(h.live().code, 200)
  h.state = 'running'
  assert.equal((await h.ready()).code, 200)
  ok = false
  assert.deepEqual((await h.ready()).body.reasons, ['store_unavailable'])
  h.state = 'draining'
  assert.deepEqual(await h.ready(), { code: 503, body: { node: 'n@h', status: 'not_ready', state: 'draining', reasons: ['draining'] } })
  assert.equal(h.live().code, 200)
})

test('the report shows a listener that is not listening as down and a stopped member as stopped', async () => {
  const h = health(() => true)
  h.state = 'running'
  const r = await h.report()
  const parts = r.body.parts as any
  assert.equal(parts.listeners[0].status, 'down')
  assert.deepEqual(parts.cluster, { enabled: true, status: 'ok', members: [{ name: 'n@h', status: 'running' }, { name: 'm@h', status: 'stopped' }] })
})
