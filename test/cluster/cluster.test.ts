// Three real node processes sharing one fresh MongoDB database and one Redis bus, with real
// mqtt.js clients spread over them: one broker and one API, whichever node is asked.
// Needs MONGODB_TEST_URL (FerretDB: scripts/ferretdb.sh) and redis-server on PATH; skipped otherwise.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { eventually } from '../support/wait.js'
import { call, startProcess, stop, type Proc } from '../process.js'
import { SECRET, SKIP, mongoUrl, startCluster, startRedis } from './harness.js'
import { mqttClient } from '../support/mqtt.js'
import { freePort } from '../support/ports.js'

const names = ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1'] as const

const client = (t: TestContext, p: Proc, clientId: string, opts: IClientOptions = {}): Promise<MqttClient> => mqttClient(t, p.mqtt, { clientId, ...opts })

function collect (c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (_topic, payload) => got.push(payload.toString()))
  return got
}

const closed = (c: MqttClient): Promise<void> => new Promise(resolve => { if (c.disconnected) resolve(); else c.once('close', () => resolve()) })
const sorted = (xs: string[]): string[] => [...xs].sort()

test('three nodes act as one broker and one API', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'main', names)
  const [n1, n2, n3] = cl.nodes as [Proc, Proc, Proc]

  await t.test('every node lists the three members, running, and serves their brokers', async () => {
    for (const p of cl.nodes) {
      const nodes = (await call(p, 'GET', '/nodes')).body
      assert.deepEqual(nodes.map((n: any) => [n.node, n.node_status]), names.map(n => [n, 'Running']))
      const brokers = (await call(p, 'GET', '/brokers')).body
      assert.deepEqual(brokers.map((b: any) => b.node), [...names])
      assert.equal((await call(p, 'GET', `/nodes/${names[2]}`)).body.name, names[2])
    }
    assert.equal((await call(n1, 'GET', '/nodes/nobody@127.0.0.1')).status, 404)
  })

  await t.test('the internal route refuses a wrong secret', async () => {
    const url = n1.api.replace('/api/v3', '/internal/rpc')
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cluster-secret': 'wrong' }, body: '{"method":"nodeInfo","args":[]}' })
    assert.equal(res.status, 401)
  })

  // subscribers on n2 and n3, publishers on n1
  const s2 = await client(t, n2, 'sub-2')
  await s2.subscribeAsync('x/#', { qos: 1 })
  const s3 = await client(t, n3, 'sub-3')
  await s3.subscribeAsync('x/+/b', { qos: 0 })
  const got2 = collect(s2)
  const got3 = collect(s3)
  const pub = await client(t, n1, 'pub-1')

  await t.test('a publish on one node reaches subscribers on the others (QoS 0 and 1, MQTT and API)', async () => {
    await pub.publishAsync('x/a/b', 'q0', { qos: 0 })
    await pub.publishAsync('x/a/b', 'q1', { qos: 1 })
    assert.deepEqual((await call(n3, 'POST', '/mqtt/publish', { topic: 'x/api/b', payload: 'api', qos: 1 })).body, { code: 0 })
    await eventually(() => got2.length >= 3 && got3.length >= 3, 5000)
    assert.deepEqual(sorted(got2), ['api', 'q0', 'q1'])
    assert.deepEqual(sorted(got3), ['api', 'q0', 'q1'])
  })

  await t.test('messages/dropped counts a message no node had a subscriber for, once, where it was published', async () => {
    const dropped = async (): Promise<number[]> => await Promise.all(names.map(async n => (await call(n2, 'GET', `/nodes/${n}/metrics`)).body['messages/dropped'] as number))
    // a persistent session whose client is away: its messages are queued, not dropped
    const away = await client(t, n2, 'away-1', { clean: false })
    await away.subscribeAsync('away/1', { qos: 1 })
    await away.endAsync()
    const before = await dropped()
    await pub.publishAsync('nobody/here', 'a', { qos: 0 })
    await pub.publishAsync('nobody/here', 'b', { qos: 1 })
    // reaches sub-2 (x/#) on n2; n3 gets it from Redis too (x/+/b is the pattern x/*/b there) and delivers nothing
    await pub.publishAsync('x/q/r/b', 'c', { qos: 1 })
    await pub.publishAsync('away/1', 'd', { qos: 1 })
    await eventually(async () => (await dropped())[0] === (before[0] as number) + 2, 3000)
      .catch(async () => { assert.fail(`messages/dropped per node went from ${before} to ${await dropped()}`) })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual((await dropped()).map((n, i) => n - (before[i] as number)), [2, 0, 0])
    await eventually(() => got2.includes('c'), 3000)
    got2.splice(got2.indexOf('c'), 1)
    // a clean session ends the stored one, so the lists below hold only the three clients
    await (await client(t, n2, 'away-1')).endAsync()
  })

  await t.test('cluster-wide lists and counts are the same from every node, with each row\'s node', async () => {
    const expectConns = [['pub-1', names[0]], ['sub-2', names[1]], ['sub-3', names[2]]]
    let first: unknown
    for (const p of cl.nodes) {
      const conns = (await call(p, 'GET', '/connections')).body
      assert.equal(conns.meta.count, 3)
      assert.deepEqual(conns.items.map((c: any) => [c.client_id, c.node]), expectConns)
      const sessions = (await call(p, 'GET', '/sessions')).body
      assert.deepEqual(sessions.items.map((s: any) => [s.client_id, s.node]), expectConns)
      const subs = (await call(p, 'GET', '/subscriptions')).body
      assert.deepEqual(subs.items.map((s: any) => [s.client_id, s.topic, s.node]), [['sub-2', 'x/#', names[1]], ['sub-3', 'x/+/b', names[2]]])
      const routes = (await call(p, 'GET', '/routes')).body
      assert.deepEqual(routes.items, [{ topic: 'x/#', node: names[1] }, { topic: 'x/+/b', node: names[2] }])
      // stable pagination over the union
      const page2 = (await call(p, 'GET', '/connections?_page=2&_limit=1')).body
      assert.equal(typeof page2.meta.cursor, 'string')
      assert.deepEqual([{ ...page2.meta, cursor: 0 }, page2.items.map((c: any) => c.client_id)], [{ count: 3, limit: 1, page: 2, hasnext: true, cursor: 0 }, ['sub-2']])
      assert.deepEqual((await call(p, 'GET', '/connections/sub-3')).body.map((c: any) => c.node), [names[2]])
      const stats = (await call(p, 'GET', '/stats')).body
      first ??= stats.map((s: any) => s.node)
      assert.deepEqual(stats.map((s: any) => s.node), [...names])
    }
  })

  await t.test('per-node routes and subscriptions of another node, from any node', async () => {
    const subs = (await call(n1, 'GET', `/nodes/${names[2]}/subscriptions`)).body
    assert.deepEqual(subs.items.map((s: any) => [s.client_id, s.topic, s.node]), [['sub-3', 'x/+/b', names[2]]])
    assert.deepEqual((await call(n1, 'GET', `/nodes/${names[1]}/connections`)).body.items.map((c: any) => c.client_id), ['sub-2'])
    assert.deepEqual((await call(n2, 'GET', `/routes/${encodeURIComponent('x/+/b')}`)).body, [{ topic: 'x/+/b', node: names[2] }])
  })

  await t.test('actions reach the node holding the client: subscribe on behalf, kickout', async () => {
    // sub-3 is on n3; ask n1
    assert.deepEqual((await call(n1, 'POST', '/mqtt/subscribe', { client_id: 'sub-3', topic: 'extra/t', qos: 1 })).body, { code: 0 })
    await eventually(async () => (await call(n2, 'GET', '/subscriptions/sub-3')).body.length === 2, 3000)
    await pub.publishAsync('extra/t', 'on-behalf', { qos: 1 })
    await eventually(() => got3.includes('on-behalf'), 3000)
    assert.deepEqual((await call(n2, 'POST', '/mqtt/subscribe', { client_id: 'nobody', topic: 'a' })).body, { code: 112 })

    const victim = await client(t, n2, 'victim')
    const gone = closed(victim)
    assert.equal((await call(n3, 'DELETE', '/connections/victim')).status, 200)
    await gone
    assert.equal((await call(n3, 'DELETE', '/connections/victim')).status, 404)
  })

  await t.test('a client id connected on a second node keeps only the newest connection', async () => {
    const older = await client(t, n1, 'twin')
    const olderClosed = closed(older)
    await client(t, n2, 'twin')
    await olderClosed
    await eventually(async () => {
      const rows = (await call(n3, 'GET', '/connections/twin')).body
      return rows.length === 1 && rows[0].node === names[1]
    }, 3000)
  })

  await t.test('a ban made on one node kicks and refuses the client on another', async () => {
    const bad = await client(t, n3, 'bad-one')
    const kicked = closed(bad)
    assert.equal((await call(n1, 'POST', '/banned', { who: 'bad-one', as: 'client_id' })).status, 200)
    await kicked
    await assert.rejects(mqtt.connectAsync(n2.mqtt, { clientId: 'bad-one', reconnectPeriod: 0 }), /authorized/i)
    await assert.rejects(mqtt.connectAsync(n3.mqtt, { clientId: 'bad-one', reconnectPeriod: 0 }), /authorized/i)
    assert.equal((await call(n2, 'DELETE', '/banned/bad-one?as=client_id')).status, 200)
    // the unban is pushed too: the very next CONNECT on another node is let in
    const back = await client(t, n3, 'bad-one')
    await back.endAsync()
  })

  await t.test('a killed node leaves the lists; its persistent client resumes elsewhere without loss', async () => {
    const p = await client(t, n3, 'keeper', { clean: false })
    await p.subscribeAsync('inbox/keeper', { qos: 1 })
    const before = collect(p)
    await pub.publishAsync('inbox/keeper', 'm0', { qos: 1 })
    await eventually(() => before.includes('m0'), 3000)

    const killedAt = Date.now()
    await stop(n3, 'SIGKILL')
    // published while the client's node is dead and before it is back: queued in MongoDB
    for (const m of ['m1', 'm2', 'm3']) await pub.publishAsync('inbox/keeper', m, { qos: 1 })

    // shown Stopped as soon as it stops answering; out of the cluster once its heartbeat is stale
    const shown = await eventually(async () => {
      const row = (await call(n1, 'GET', '/nodes')).body.find((n: any) => n.node === names[2])
      return row?.node_status === 'Stopped' ? row : null
    }, 8000)
    t.diagnostic(`killed node shown Stopped after ${Date.now() - killedAt} ms`)
    assert.equal(shown.connections, 0)
    await eventually(async () => (await call(n1, 'GET', `/nodes/${names[2]}`)).status === 404, 8000)
    const after = Date.now() - killedAt
    t.diagnostic(`killed node left the cluster (GET /nodes/{it} is 404) after ${after} ms`)
    assert.ok(after < 7000, `took ${after} ms`)
    assert.equal((await call(n2, 'GET', '/brokers')).body.find((b: any) => b.node === names[2]).node_status, 'Stopped')
    assert.equal((await call(n2, 'GET', '/nodes')).body.find((n: any) => n.node === names[2]).node_status, 'Stopped')
    const conns = (await call(n2, 'GET', '/connections')).body
    assert.ok(conns.items.every((c: any) => c.node !== names[2]), JSON.stringify(conns.items))
    assert.equal(conns.meta.count, conns.items.length)
    assert.ok((await call(n1, 'GET', '/routes')).body.items.every((r: any) => r.node !== names[2]))
    // its stored session is listed by a survivor until the client returns
    // m0 too when the killed node had not yet stored keeper's PUBACK of it: at least once allows that
    let listed: any
    await eventually(async () => { listed = (await call(n2, 'GET', '/sessions/keeper')).body; return [3, 4].includes(listed[0]?.mqueue_len) }, 5000)
      .catch(() => { assert.fail(`keeper's session: ${JSON.stringify(listed)}`) })
    const queued = listed[0].mqueue_len as number

    const resumed = await mqtt.connectAsync(n2.mqtt, { clientId: 'keeper', clean: false, reconnectPeriod: 0 })
    t.after(() => resumed.endAsync(true).catch(() => {}))
    const got = collect(resumed)
    await eventually(() => got.length >= queued, 5000)
    await new Promise(resolve => setTimeout(resolve, 300))
    // every one, once, in the order they were published [MQTT-4.6.0-2]; a redelivered m0 only first
    assert.deepEqual(got, queued === 4 ? ['m0', 'm1', 'm2', 'm3'] : ['m1', 'm2', 'm3'])
    // still subscribed on its new node
    await pub.publishAsync('inbox/keeper', 'm4', { qos: 1 })
    await eventually(() => got.includes('m4'), 3000)
    const sessions = (await call(n1, 'GET', '/sessions')).body.items.filter((s: any) => s.client_id === 'keeper')
    assert.deepEqual(sessions.map((s: any) => s.node), [names[1]])
  })

  await t.test('the killed node rejoins after a restart', async () => {
    const back = await cl.start(names[2])
    for (const p of [n1, n2, back]) {
      await eventually(async () => {
        const nodes = (await call(p, 'GET', '/nodes')).body
        return nodes.length === 3 && nodes.every((n: any) => n.node_status === 'Running')
      }, 5000)
    }
    const c = await client(t, back, 'late')
    await c.subscribeAsync('x/late', { qos: 1 })
    // listening before the publish: the PUBACK waits for the store, Redis may deliver first
    const got = collect(c)
    await pub.publishAsync('x/late', 'hello', { qos: 1 })
    await eventually(() => got.length > 0, { timeoutMs: 5000, what: 'the message on the rejoined node' })
    assert.deepEqual(got, ['hello'])
    assert.deepEqual((await call(n1, 'GET', `/nodes/${names[2]}/connections`)).body.items.map((x: any) => x.client_id), ['late'])
  })
})

test('a node refuses to start under the name of a live node', { skip: SKIP, timeout: 60000 }, async (t) => {
  const bus = await startRedis(t)
  const dataDir = mkdtempSync(join(tmpdir(), 'cluster-dup-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { MONGODB_URL: `${mongoUrl('dup')}`, CLUSTER_BUS_URL: bus, CLUSTER_SECRET: SECRET, DATA_DIR: dataDir, NODE_NAME: 'same@127.0.0.1' }
  const first = await startProcess(env)
  t.after(() => { first.child.kill('SIGKILL') })
  const [mqttPort, apiPort] = [await freePort(), await freePort()]
  const second = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, MQTT_PORT: String(mqttPort), API_PORT: String(apiPort), MQTT_WS_PORT: 'off', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 30000
  })
  assert.equal(second.status, 1)
  assert.match(second.stderr, /NODE_NAME=same@127\.0\.0\.1 is already used by a live node/)
})

test('clustering is configured whole or not at all', async () => {
  const { loadConfig, ConfigError } = await import('../../src/config.js')
  const bus = { CLUSTER_BUS_URL: 'redis://127.0.0.1:6379' }
  assert.equal(loadConfig({}).cluster, null)
  assert.throws(() => loadConfig({ ...bus, CLUSTER_SECRET: SECRET }), (e: Error) => e instanceof ConfigError && /needs MONGODB_URL/.test(e.message))
  assert.throws(() => loadConfig({ ...bus, MONGODB_URL: 'mongodb://h/db' }), /CLUSTER_SECRET must be set/)
  assert.throws(() => loadConfig({ CLUSTER_BUS_URL: 'http://x', MONGODB_URL: 'mongodb://h/db', CLUSTER_SECRET: SECRET }), /redis:\/\//)
  assert.throws(() => loadConfig({ CLUSTER_SECRET: SECRET }), /CLUSTER_BUS_URL is not/)
  assert.deepEqual(loadConfig({ ...bus, MONGODB_URL: 'mongodb://h/db', CLUSTER_SECRET: SECRET, API_ADVERTISE_URL: 'http://node1:8080/' }).cluster,
    { busUrl: bus.CLUSTER_BUS_URL, secret: SECRET, advertiseUrl: 'http://node1:8080' })
})
