// emqx_delayed_publish with real clients: $delayed/{seconds}/{topic} arrives on {topic} later.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { eventually, sleep } from '../support/wait.js'

test('delayed publish: $delayed/2/t arrives on t about two seconds late, and never on $delayed/...', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'd-sub' })
  const got: Array<{ topic: string, at: number, payload: string }> = []
  sub.on('message', (topic, payload) => got.push({ topic, payload: payload.toString(), at: Date.now() }))
  await sub.subscribeAsync(['t', '$delayed/#'])
  const pub = await n.client({ clientId: 'd-pub' })
  const sent = Date.now()
  await pub.publishAsync('$delayed/2/t', 'later', { qos: 1 })
  const first = await eventually(() => got[0], 5000)
  const late = first.at - sent
  assert.ok(late >= 1800 && late < 4000, `arrived after ${late} ms`)
  assert.deepEqual([first.topic, first.payload], ['t', 'later'])
  await sleep(150)
  assert.equal(got.length, 1)
})

test('delayed publish: through POST /mqtt/publish too; a malformed delay is dropped', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'd-sub2' })
  const got: string[] = []
  sub.on('message', (topic) => got.push(topic))
  await sub.subscribeAsync(['#', '$delayed/#'])
  assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: '$delayed/1/api/t', payload: 'x' } })).body, { code: 0 })
  await n.api('POST', '/mqtt/publish', { body: { topic: '$delayed/4294968/too/late', payload: 'x' } })
  await n.api('POST', '/mqtt/publish', { body: { topic: '$delayed/soon/t', payload: 'x' } })
  await sleep(300)
  assert.deepEqual(got, [])
  await eventually(() => got.length === 1, 3000)
  assert.deepEqual(got, ['api/t'])
})

test('delayed publish unloaded: $delayed/1/t is an ordinary topic, delivered at once', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_delayed_publish/unload`)).body, 'ok')
  const sub = await n.client({ clientId: 'd-sub3' })
  const got: string[] = []
  sub.on('message', (topic) => got.push(topic))
  await sub.subscribeAsync(['t', '$delayed/#'])
  const pub = await n.client({ clientId: 'd-pub3' })
  await pub.publishAsync('$delayed/1/t', 'now', { qos: 1 })
  await eventually(() => got.length === 1, 500)
  assert.deepEqual(got, ['$delayed/1/t'])
  await sleep(1200)
  assert.deepEqual(got, ['$delayed/1/t'], 'nothing arrives on t later')
})
