// DELETE /sessions/{clientid}: a persistent session discarded, offline or online, with real clients.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { connectCollecting } from '../support/mqtt.js'
import { eventually, sleep } from '../support/wait.js'

test('an offline persistent session is discarded: no subscriptions, no queue, a fresh session on return', async (t) => {
  const n = await startTestNode(t)
  const c = await n.client({ clientId: 'p-off', clean: false })
  await c.subscribeAsync('d/1', { qos: 1 })
  await c.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions?conn_state=disconnected')).body.meta.count === 1)
  const pub = await n.client({ clientId: 'pub' })
  await pub.publishAsync('d/1', 'queued', { qos: 1 })
  await eventually(async () => (await n.api('GET', '/sessions/p-off')).body[0]?.mqueue_len === 1)

  assert.equal((await n.api('DELETE', '/sessions/p-off')).status, 200)
  assert.deepEqual((await n.api('GET', '/sessions/p-off')).body, [])
  assert.deepEqual((await n.api('GET', '/subscriptions/p-off')).body, [])
  assert.equal((await n.api('GET', '/routes?_match_topic=d/1')).body.meta.count, 0)
  const back = await connectCollecting(t, n.mqttUrl, { clientId: 'p-off', clean: false })
  assert.equal(back.connack.sessionPresent, false)
  await sleep(300)
  assert.deepEqual(back.received, [])
  // gone: a second delete is a 404
  back.client.end(true)
  await eventually(async () => (await n.api('GET', '/connections/p-off')).body.length === 0)
  await eventually(async () => (await n.api('GET', '/sessions/p-off')).body.length === 0)
  const again = await n.api('DELETE', '/sessions/p-off')
  assert.equal(again.status, 404)
  assert.equal(typeof again.body.code, 'number')
})

test('an online client is kicked out and its persistent session removed', async (t) => {
  const n = await startTestNode(t)
  const c = await n.client({ clientId: 'p-on', clean: false })
  await c.subscribeAsync('d/2', { qos: 1 })
  const closed = new Promise<void>(resolve => c.once('close', () => resolve()))
  assert.equal((await n.api('DELETE', '/sessions/p-on')).status, 200)
  await closed
  assert.deepEqual((await n.api('GET', '/sessions/p-on')).body, [])
  assert.deepEqual((await n.api('GET', '/connections/p-on')).body, [])
  const back = await connectCollecting(t, n.mqttUrl, { clientId: 'p-on', clean: false })
  assert.equal(back.connack.sessionPresent, false)
  assert.deepEqual((await n.api('GET', '/subscriptions/p-on')).body, [])
})

test('discarding an unknown session is a 404; a bad client id path is a 400 or 404, never a 500', async (t) => {
  const n = await startTestNode(t)
  const r = await n.api('DELETE', '/sessions/nobody')
  assert.equal(r.status, 404)
  assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message'])
  assert.equal((await n.api('DELETE', '/sessions/%E0%A4%A')).status, 400)
  assert.equal((await n.api('DELETE', '/sessions/x', { auth: null })).status, 401)
})
