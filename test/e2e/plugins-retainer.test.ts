// emqx_retainer limits and load/unload with real clients.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually, sleep } from '../support/wait.js'

/** the retained messages a fresh subscriber to `filter` gets, as topic=payload */
async function retainedFor (n: TestNode, id: string, filter: string, waitMs = 200): Promise<string[]> {
  const c = await n.client({ clientId: id })
  const got: string[] = []
  c.on('message', (topic, payload, packet) => { if (packet.retain) got.push(`${topic}=${payload.toString()}`) })
  await c.subscribeAsync(filter)
  await sleep(waitMs)
  await c.endAsync()
  return got.sort()
}

const retainedCount = async (n: TestNode): Promise<number> => (await n.api('GET', `/nodes/${n.nodeName}/stats`)).body['retained/count']

test('retainer max_retained_messages=2: a third topic is not kept, replacing a kept one is', async (t) => {
  const n = await startTestNode(t)
  const path = `/nodes/${n.nodeName}/plugin_configs/emqx_retainer`
  assert.equal((await n.api('PUT', path, { body: { 'retainer.max_retained_messages': '-1' } })).status, 400)
  assert.equal((await n.api('PUT', path, { body: { 'retainer.max_retained_messages': '2' } })).body, 'ok')
  const pub = await n.client({ clientId: 'r-pub' })
  for (const [topic, payload] of [['r/a', '1'], ['r/b', '1'], ['r/c', '1'], ['r/a', '2']] as const) {
    await pub.publishAsync(topic, payload, { retain: true, qos: 1 })
  }
  await n.api('POST', '/mqtt/publish', { body: { topic: 'r/d', payload: '1', retain: true } })
  assert.deepEqual(await retainedFor(n, 'r-sub', 'r/#'), ['r/a=2', 'r/b=1'])
  assert.equal(await retainedCount(n), 2)
  await pub.publishAsync('r/b', '', { retain: true, qos: 1 }) // clears r/b: room for one more
  await pub.publishAsync('r/c', '3', { retain: true, qos: 1 })
  assert.deepEqual(await retainedFor(n, 'r-sub2', 'r/#'), ['r/a=2', 'r/c=3'])
})

test('retainer expiry_interval=1s: an older retained message is not delivered and is removed', async (t) => {
  const n = await startTestNode(t, {}, { node: { retainerSweepMs: 100 } })
  await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_retainer`, { body: { 'retainer.expiry_interval': '2s' } })
  const pub = await n.client({ clientId: 'e-pub' })
  await pub.publishAsync('e/1', 'fresh', { retain: true, qos: 1 })
  // the PUBACK comes before the store has written the message (aedes); wait for the store
  await eventually(async () => await retainedCount(n) === 1)
  assert.deepEqual(await retainedFor(n, 'e-sub1', 'e/#', 300), ['e/1=fresh'])
  await sleep(2100)
  assert.deepEqual(await retainedFor(n, 'e-sub2', 'e/#', 100), [])
  await eventually(async () => await retainedCount(n) === 0)
})

test('retainer unloaded: stored retained messages are not delivered, and are again once it is loaded', async (t) => {
  const n = await startTestNode(t)
  const base = `/nodes/${n.nodeName}/plugins/emqx_retainer`
  await n.api('POST', '/mqtt/publish', { body: { topic: 'k/1', payload: 'kept', retain: true } })
  assert.equal((await n.api('PUT', `${base}/unload`)).body, 'ok')
  assert.deepEqual(await retainedFor(n, 'u-sub1', 'k/#'), [])
  await n.api('POST', '/mqtt/publish', { body: { topic: 'k/2', payload: 'not kept', retain: true } })
  assert.equal((await n.api('PUT', `${base}/load`)).body, 'ok')
  assert.deepEqual(await retainedFor(n, 'u-sub2', 'k/#'), ['k/1=kept'])
})
