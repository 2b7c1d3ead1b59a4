// SIGTERM ends a clustered node within its bound (10 s) even when the bus (Redis) or the store
// (MongoDB, behind a proxy the test cuts) is gone before or during the shutdown, and what the node
// acknowledged is stored. Real processes; needs MONGODB_TEST_URL and redis-server, skipped otherwise.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import mqtt from 'mqtt'
import { CuttableProxy } from '../cuttable-proxy.js'
import { eventually } from '../support/wait.js'
import { startProcess, type Proc } from '../process.js'
import { startRedis } from '../support/redis.js'
import { MONGO, SECRET, SKIP, mongoUrl } from './harness.js'

const BOUND_MS = 10_000

interface Setup { node: Proc, proxy: CuttableProxy, stopRedis: () => void, db: string }

async function clusteredNode (t: TestContext, tag: string): Promise<Setup> {
  const redis = await startRedis()
  t.after(() => { redis.stop() })
  const target = new URL(MONGO as string)
  const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) })
  await proxy.open()
  t.after(() => proxy.cut())
  const db = new URL(mongoUrl(tag)).pathname.slice(1)
  const node = await startProcess({
    MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/${db}`,
    CLUSTER_BUS_URL: redis.url,
    CLUSTER_SECRET: SECRET,
    NODE_NAME: `${tag}@127.0.0.1`,
    DATA_DIR: mkdtempSync(join(tmpdir(), `${tag}-`))
  })
  t.after(() => { node.child.kill('SIGKILL') })
  return { node, proxy, db, stopRedis: () => { redis.stop() } }
}

/** a QoS 1 message acknowledged for an offline persistent session just before the shutdown */
async function acknowledgedForOffline ({ node, db }: Setup, clientId: string): Promise<void> {
  // (aedes 1.2 sends PUBACK before it stores; the ordering is another change of issue 21: until it
  // lands the tests wait for the row rather than race it)
  const sub = await mqtt.connectAsync(node.mqtt, { clientId, clean: false, reconnectPeriod: 0 })
  await sub.subscribeAsync(`keep/${clientId}`, { qos: 1 })
  await sub.endAsync()
  const pub = await mqtt.connectAsync(node.mqtt, { clientId: `${clientId}-pub`, reconnectPeriod: 0 })
  await pub.publishAsync(`keep/${clientId}`, 'kept', { qos: 1 })
  await pub.endAsync()
  await eventually(async () => await queued(db, clientId) === 1, 5000)
}

async function queued (db: string, clientId: string): Promise<number> {
  const c = await MongoClient.connect(MONGO as string)
  try {
    return await c.db(db).collection('mqtt_outgoing').countDocuments({ clientId })
  } finally {
    await c.close()
  }
}

async function sigterm (node: Proc, during?: () => void | Promise<void>): Promise<{ ms: number, code: number | null }> {
  const started = Date.now()
  const exited = new Promise<number | null>(resolve => node.child.once('exit', code => resolve(code)))
  node.child.kill('SIGTERM')
  if (during !== undefined) await during()
  const code = await Promise.race([exited, new Promise<'late'>(resolve => setTimeout(() => resolve('late'), BOUND_MS + 5000))])
  assert.notEqual(code, 'late', `still running ${BOUND_MS + 5000} ms after SIGTERM`)
  return { ms: Date.now() - started, code: code as number | null }
}

test('SIGTERM ends a clustered node within 10 s whatever is gone', { skip: SKIP, timeout: 170000 }, async (t) => {
  await t.test('the bus stopped before SIGTERM', async (t) => {
    const s = await clusteredNode(t, 'sd-bus-before')
    await acknowledgedForOffline(s, 'k1')
    s.stopRedis()
    await new Promise(resolve => setTimeout(resolve, 1000))
    const { ms } = await sigterm(s.node)
    t.diagnostic(`exited ${ms} ms after SIGTERM`)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assert.equal(await queued(s.db, 'k1'), 1, 'the acknowledged message is stored')
  })

  await t.test('the bus stopped during the shutdown', async (t) => {
    const s = await clusteredNode(t, 'sd-bus-during')
    await acknowledgedForOffline(s, 'k2')
    const { ms } = await sigterm(s.node, () => { s.stopRedis() })
    t.diagnostic(`exited ${ms} ms after SIGTERM`)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assert.equal(await queued(s.db, 'k2'), 1, 'the acknowledged message is stored')
  })

  await t.test('the store cut before SIGTERM', async (t) => {
    const s = await clusteredNode(t, 'sd-store-before')
    await acknowledgedForOffline(s, 'k3')
    await s.proxy.cut()
    await new Promise(resolve => setTimeout(resolve, 1000))
    const { ms } = await sigterm(s.node)
    t.diagnostic(`exited ${ms} ms after SIGTERM`)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assert.equal(await queued(s.db, 'k3'), 1, 'the acknowledged message is stored')
  })

  await t.test('the store cut during the shutdown', async (t) => {
    const s = await clusteredNode(t, 'sd-store-during')
    await acknowledgedForOffline(s, 'k4')
    const { ms } = await sigterm(s.node, async () => { await s.proxy.cut() })
    t.diagnostic(`exited ${ms} ms after SIGTERM`)
    assert.ok(ms < BOUND_MS, `${ms} ms`)
    assert.equal(await queued(s.db, 'k4'), 1, 'the acknowledged message is stored')
  })
})
