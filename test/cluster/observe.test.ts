// Observing a cluster of two real node processes: the Prometheus scrape of every node and its sum,
// the alarm history of the whole cluster from any node, and the live events of every node from any node.
// Needs MONGODB_TEST_URL and redis-server (the harness says why it skips).
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import mqtt, { type MqttClient } from 'mqtt'
import parsePrometheus from 'parse-prometheus-text-format'
import { eventually } from '../support/wait.js'
import { call, stop, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { listen } from '../events-client.js'

const names = ['o1@127.0.0.1', 'o2@127.0.0.1'] as const

async function client (t: TestContext, p: Proc, clientId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(p.mqtt, { clientId, reconnectPeriod: 0 })
  t.after(() => c.endAsync(true).catch(() => {}))
  return c
}

async function scrape (p: Proc, query = ''): Promise<ReturnType<typeof parsePrometheus>> {
  const res = await fetch(`${p.api}/prometheus/stats${query}`)
  assert.equal(res.status, 200)
  return parsePrometheus(await res.text())
}

const series = (fams: ReturnType<typeof parsePrometheus>, name: string): Array<[string | undefined, number]> =>
  (fams.find(f => f.name === name)?.metrics ?? []).map(m => [m.labels?.node, Number(m.value)])

test('two nodes: any node scrapes both, and all_nodes_aggregated is their sum', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'observe', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  // one client on o1, two on o2, and QoS 0 messages published on each
  const a = await client(t, n1, 'o-a')
  await client(t, n2, 'o-b')
  const c = await client(t, n2, 'o-c')
  for (let i = 0; i < 3; i++) await a.publishAsync('t', 'x', { qos: 0 })
  for (let i = 0; i < 4; i++) await c.publishAsync('t', 'x', { qos: 0 })
  await eventually(async () => (await call(n2, 'GET', `/nodes/${names[1]}/metrics`)).body['messages/qos0/received'] === 4)

  for (const p of [n1, n2]) {
    const fams = await scrape(p)
    assert.deepEqual(series(fams, 'emqx_connections_count'), [[names[0], 1], [names[1], 2]])
    assert.deepEqual(series(fams, 'emqx_messages_qos0_received'), [[names[0], 3], [names[1], 4]])
    assert.equal(series(fams, 'process_resident_memory_bytes').length, 2, 'process figures of both nodes')
    const perNode = Object.fromEntries((await call(p, 'GET', '/metrics')).body.map((e: any) => [e.node, e.metrics]))
    const agg = await scrape(p, '?mode=all_nodes_aggregated')
    assert.deepEqual(series(agg, 'emqx_connections_count'), [[undefined, 3]])
    assert.deepEqual(series(agg, 'emqx_messages_qos0_received'), [[undefined, 7]])
    assert.deepEqual(series(agg, 'emqx_packets_connect'), [[undefined, perNode[names[0]]['packets/connect'] + perNode[names[1]]['packets/connect']]])
    const self = await scrape(p, '?mode=node')
    assert.equal(series(self, 'emqx_connections_count').length, 1)
  }

  // the alarm history: a deactivation on o2, asked of o1, is in the one shared history
  const activated = (await call(n1, 'GET', '/alarms/activated')).body
  assert.deepEqual(activated.map((g: any) => g.node), [...names])
  const o2Alarms = activated[1].alarms.map((a: any) => a.name)
  assert.ok(o2Alarms.includes('default_admin_password'), JSON.stringify(activated))
  assert.equal((await call(n1, 'POST', '/alarms/deactivated', { name: 'default_admin_password', node: names[1] })).status, 200)
  assert.equal((await call(n1, 'POST', '/alarms/deactivated', { name: 'default_admin_password', node: names[1] })).status, 404)
  for (const p of [n1, n2]) {
    const hist = (await call(p, 'GET', '/alarms/deactivated')).body
    assert.deepEqual(hist.map((g: any) => [g.node, g.alarms.map((a: any) => a.name)]), [[names[1], ['default_admin_password']]])
  }
  // without a node: wherever it is still active (o1)
  assert.equal((await call(n2, 'POST', '/alarms/deactivated', { name: 'default_admin_password' })).status, 200)
  assert.deepEqual((await call(n2, 'GET', '/alarms/deactivated')).body.map((g: any) => g.node).sort(), [...names])
  assert.equal((await call(n2, 'DELETE', '/alarms/deactivated')).status, 200)
  assert.deepEqual((await call(n1, 'GET', '/alarms/deactivated')).body, [])
})

test('the event stream of any node carries the events of every node, and node.up / node.down', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'observe-ev', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const on1 = await listen(t, n1.api)
  const on2 = await listen(t, n2.api, '?type=client.&type=banned.')
  const c = await client(t, n2, 'x-1')
  for (const s of [on1, on2]) {
    const e = await s.waitFor(x => x.type === 'client.connected' && x.clientid === 'x-1')
    assert.equal(e.node, names[1])
  }
  await c.subscribeAsync('x/y')
  assert.equal((await on1.waitFor(x => x.type === 'session.subscribed')).node, names[1])
  // a ban made on o1 kicks the client on o2: o2's stream has both
  assert.equal((await call(n1, 'POST', '/banned', { who: 'x-1', as: 'client_id' })).status, 200)
  assert.equal((await on2.waitFor(x => x.type === 'banned.created')).node, names[0])
  const gone = await on2.waitFor(x => x.type === 'client.disconnected' && x.clientid === 'x-1')
  assert.deepEqual([gone.node, gone.data.reason], [names[1], 'banned'])
  // each event once, in the order the node learnt it
  assert.equal(on2.got.filter(x => x.type === 'client.connected').length, 1)

  const third = 'o3@127.0.0.1'
  const p3 = await cl.start(third)
  assert.deepEqual((await on1.waitFor(x => x.type === 'node.up', 15000)).data, { name: third })
  await stop(p3)
  const down = await on1.waitFor(x => x.type === 'node.down', 15000)
  assert.deepEqual([down.node, down.data], [names[0], { name: third }])
})
