// The stateful plugins in a cluster of two real node processes sharing one fresh MongoDB database
// and one Redis bus: the retainer's limits and expiry are cluster-wide, and a dead node's delayed
// messages are published by the survivor.
// Needs MONGODB_TEST_URL (FerretDB: scripts/ferretdb.sh) and redis-server on PATH; skipped otherwise.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { MongoClient } from 'mongodb'
import type { MqttClient } from 'mqtt'
import { eventually, sleep } from '../support/wait.js'
import { call, stop, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient, openClient } from '../support/mqtt.js'

const names = ['p1@127.0.0.1', 'p2@127.0.0.1'] as const

const client = (t: TestContext, p: Proc, clientId: string): Promise<MqttClient> => mqttClient(t, p.mqtt, { clientId })

/** the retained messages a fresh subscriber to `filter` on `p` gets, as topic=payload */
async function retainedFor (p: Proc, clientId: string, filter: string): Promise<string[]> {
  const c = await openClient(p.mqtt, { clientId })
  const got: string[] = []
  c.on('message', (topic, payload, packet) => { if (packet.retain) got.push(`${topic}=${payload.toString()}`) })
  await c.subscribeAsync(filter, { qos: 1 })
  await sleep(300)
  await c.endAsync()
  return got.sort()
}

const setRetainer = async (p: Proc, key: string, value: string): Promise<void> => {
  assert.equal((await call(p, 'PUT', '/configs/emqx_retainer', { key: `retainer.${key}`, value })).status, 200)
}

test('the retainer and delayed publish act cluster-wide', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'plugins', names)
  const [a, b] = cl.nodes as [Proc, Proc]
  const mongo = new MongoClient(cl.env.MONGODB_URL as string)
  t.after(async () => { await mongo.close() })
  const db = mongo.db()
  const stored = db.collection<{ topic: string, payload: unknown, retainedAt?: number }>('mqtt_retained')
  /** the retained topics in the shared store, outside $SYS */
  const storedTopics = async (): Promise<string[]> =>
    (await stored.find({ topic: { $not: /^\$SYS\// } }).toArray()).map(d => d.topic).sort()
  const pa = await client(t, a, 'pub-a')
  const pb = await client(t, b, 'pub-b')

  await t.test('a message retained through one node is delivered on SUBSCRIBE at the other', async () => {
    await pa.publishAsync('r/1', 'one', { qos: 1, retain: true })
    // the PUBACK may come before the store has written it (aedes)
    await eventually(async () => (await storedTopics()).includes('r/1'), 3000)
    assert.deepEqual(await retainedFor(b, 'r-sub', 'r/#'), ['r/1=one'])
    await pa.publishAsync('r/1', '', { qos: 1, retain: true })
    await eventually(async () => (await storedTopics()).length === 0, 3000)
  })

  await t.test('retained/count is the cluster\'s count on every node', async () => {
    // each node's own figure, asked on the other node
    const counts = async (): Promise<number[]> => await Promise.all(names.map(async (n, i) =>
      (await call(cl.nodes[1 - i] as Proc, 'GET', `/nodes/${n}/stats`)).body['retained/count'] as number))
    await pa.publishAsync('n/a', 'x', { qos: 1, retain: true })
    await pb.publishAsync('n/b', 'y', { qos: 1, retain: true })
    await eventually(async () => (await counts()).every(n => n === 2), 4000)
      .catch(async () => { assert.fail(`retained/count per node: ${await counts()}`) })
    // each cleared through the node that stored it, as the next test wants no topic a node still
    // counts though another node cleared it (the index is re-read only while a limit is set)
    await pa.publishAsync('n/a', '', { qos: 1, retain: true })
    await pb.publishAsync('n/b', '', { qos: 1, retain: true })
    await eventually(async () => (await counts()).every(n => n === 0), 4000)
      .catch(async () => { assert.fail(`retained/count per node after clearing: ${await counts()}`) })
  })

  await t.test('max_retained_messages counts the topics retained through every node', async () => {
    await setRetainer(a, 'max_retained_messages', '2')
    await pa.publishAsync('c/1', '1', { qos: 1, retain: true })
    await pa.publishAsync('c/2', '1', { qos: 1, retain: true })
    await eventually(async () => (await storedTopics()).length === 2, 3000)
    await sleep(2500) // b reads the shared set again every second
    await pb.publishAsync('c/3', '1', { qos: 1, retain: true })
    await pb.publishAsync('c/1', '2', { qos: 1, retain: true }) // replacing a kept topic is fine
    await eventually(async () => (await stored.findOne({ topic: 'c/1' }))?.payload?.toString() === '2', 3000)
    await sleep(300)
    assert.deepEqual(await storedTopics(), ['c/1', 'c/2'])
    assert.deepEqual(await retainedFor(a, 'c-sub', 'c/#'), ['c/1=2', 'c/2=1'])
    await pa.publishAsync('c/1', '', { qos: 1, retain: true })
    await pa.publishAsync('c/2', '', { qos: 1, retain: true })
    await setRetainer(b, 'max_retained_messages', '0')
    await eventually(async () => (await storedTopics()).length === 0, 3000)
  })

  // subscribed before the node that takes the delayed message dies
  const sub = await client(t, b, 'd-sub')
  const delayed: Array<{ payload: string, at: number }> = []
  sub.on('message', (_topic, payload) => delayed.push({ payload: payload.toString(), at: Date.now() }))
  await sub.subscribeAsync('d/#', { qos: 1 })
  let due = 0

  await t.test('expiry_interval is cluster-wide: the other node stops delivering it and removes it, though its node died', async () => {
    await setRetainer(a, 'expiry_interval', '2s')
    await pa.publishAsync('e/1', 'old', { qos: 1, retain: true })
    const storedAt = Date.now()
    await eventually(async () => typeof (await stored.findOne({ topic: 'e/1' }))?.retainedAt === 'number', 3000)
    assert.deepEqual(await retainedFor(b, 'e-sub1', 'e/#'), ['e/1=old'], 'fresh: delivered')

    // a's pending delayed message, for the next test
    due = Date.now() + 3000
    await pa.publishAsync('$delayed/3/d/1', 'later', { qos: 1 })
    await eventually(async () => (await db.collection('kv').countDocuments({ ns: `delayed@${names[0]}` })) === 1, 3000)

    await stop(a, 'SIGKILL')
    // only b is left to sweep it
    await eventually(async () => !(await storedTopics()).includes('e/1'), 6000)
    const gone = Date.now() - storedAt
    t.diagnostic(`expired message removed from the shared store ${gone} ms after it was stored`)
    assert.ok(gone >= 2000, `removed after ${gone} ms`)
    assert.deepEqual(await retainedFor(b, 'e-sub2', 'e/#'), [])
  })

  await t.test('a dead node\'s pending delayed message is published by the survivor, once', async () => {
    await eventually(() => delayed.length > 0, 15000)
    await sleep(500)
    assert.deepEqual(delayed.map(d => d.payload), ['later'])
    assert.ok((delayed[0]?.at ?? 0) >= due - 100, 'not before its time')
    t.diagnostic(`published ${(delayed[0]?.at ?? 0) - due} ms after its due time (its node died before it)`)
    assert.equal(await db.collection('kv').countDocuments({ ns: `delayed@${names[0]}` }), 0)
  })
})
