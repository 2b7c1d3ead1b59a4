// Readiness follows the node's lifecycle and its store (sources are stand-ins here; the e2e test uses a real node).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Health } from '../../src/services/health.js'
import { StoreHealth } from '../../src/services/store-health.js'

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

test('StoreHealth.current: true at once while healthy; once down, callers share one check and see the store come back', async () => {
  let pings = 0
  let up = false
  let release: (() => void) | null = null
  const store = { kind: 'mongodb', ping: async () => { pings++; await new Promise<void>(resolve => { release = resolve }); if (!up) throw new Error('down') } }
  const alarms = { raise: () => {}, clear: () => {} }
  const log = { warn: () => {}, info: () => {} }
  const h = new StoreHealth(store as never, alarms as never, log)
  assert.equal(await h.current(), true)
  assert.equal(pings, 0, 'healthy: no check')
  const first = h.check()
  ;(release as unknown as () => void)()
  assert.equal(await first, false)
  // three CONNECTs while it is known down: one ping between them
  const answers = Promise.all([h.current(), h.current(), h.current()])
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(pings, 2)
  up = true
  ;(release as unknown as () => void)()
  assert.deepEqual(await answers, [true, true, true])
  assert.equal(h.ok, true)
})
