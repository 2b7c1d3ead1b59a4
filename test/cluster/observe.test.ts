// Observing a cluster of two real node processes: the Prometheus scrape of every node and its sum,
// the alarm history of the whole cluster from any node, the live events of every node from any node, and
// a reader resuming with Last-Event-ID on another node than the one it read, and an import applied on every node.
// Needs MONGODB_TEST_URL and redis-server (the harness says why it skips).
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import mqtt, { type MqttClient } from 'mqtt'
import parsePrometheus from 'parse-prometheus-text-format'
import { eventually } from '../support/wait.js'
import { granted } from '../support/mqtt.js'
import { call, stop, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { AUTH, listen, type Ev } from '../events-client.js'

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

/** GET /events on `p` resuming from `lastId`: the frames until `count` events came (or 10 s), and whether a gap was told */
async function resumeOn (p: Proc, lastId: string, count: number): Promise<{ events: Ev[], gap: boolean }> {
  const ac = new AbortController()
  const timer = setTimeout(() => { ac.abort() }, 10000)
  const res = await fetch(`${p.api}/events?type=session.`, { headers: { authorization: AUTH, 'last-event-id': lastId }, signal: ac.signal })
  assert.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  const events = (): Ev[] => [...text.matchAll(/^data: (.*)$/gm)].map(m => JSON.parse(m[1] as string) as Ev).filter(e => e.type !== undefined)
  try {
    while (events().length < count) text += Buffer.from((await reader.read()).value ?? []).toString()
    // anything that would come twice comes with the replay, at once
    await new Promise(resolve => setTimeout(resolve, 300))
  } finally {
    clearTimeout(timer)
    await reader.cancel().catch(() => {})
  }
  return { events: events(), gap: text.includes('event: gap') }
}

test('Last-Event-ID resumes on any node: a reader of one node moves to the other without gaps or duplicates', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'observe-resume', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const on1 = await listen(t, n1.api, '?type=session.')
  const on2 = await listen(t, n2.api, '?type=session.')
  const a = await client(t, n1, 'rs-a')
  const b = await client(t, n2, 'rs-b')
  const what = (e: Ev): string => `${e.clientid ?? ''} ${String(e.data.topic)}`
  // both nodes' events interleaved: each node learns its own at once and the other's over the bus
  const round = async (from: number, to: number): Promise<void> => {
    await Promise.all([a, b].map(async c => { for (let i = from; i < to; i++) await c.subscribeAsync(`rs/${i}`) }))
  }
  await round(0, 5)
  for (const s of [on1, on2]) await eventually(() => s.got.length === 10)
  const cutOn1 = on1.got.length
  const cutOn2 = on2.got.length
  const id1 = (on1.got.at(-1) as Ev).id
  const id2 = (on2.got.at(-1) as Ev).id
  // while the reader is away
  await round(5, 10)
  for (const s of [on1, on2]) await eventually(() => s.got.length === 20)
  assert.deepEqual(new Set(on1.got.map(what)), new Set(on2.got.map(what)))

  // from o1's id on o2, and from o2's id on o1: exactly what the reader had not seen, once each
  for (const [p, id, ref, cut] of [[n2, id1, on1, cutOn1], [n1, id2, on2, cutOn2]] as const) {
    const missed = ref.got.slice(cut).map(what)
    const r = await resumeOn(p, id, missed.length)
    assert.equal(r.gap, false)
    assert.deepEqual(r.events.map(what).sort(), [...missed].sort())
    // each client's events in their order
    for (const c of ['rs-a', 'rs-b']) assert.deepEqual(r.events.filter(e => e.clientid === c).map(what), missed.filter(m => m.startsWith(`${c} `)))
  }
  // an id of no node of this cluster: told of a gap
  assert.equal((await resumeOn(n2, 'ffff-12', 20)).gap, true)
})

test('an import on one node applies on every node: bans and ACL rules at once, hot configs and plugin states on each', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'observe-import', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  // configured on o1 only: a client id's password (kept as its hash), its plugin loaded, a topic level limit
  assert.equal((await call(n1, 'PUT', `/nodes/${names[0]}/plugin_configs/emqx_auth_clientid`, { 'auth.client.1.clientid': 'imp-c', 'auth.client.1.password': 'imp-pass' })).status, 200)
  assert.equal((await call(n1, 'PUT', `/nodes/${names[0]}/plugins/emqx_auth_clientid/load`)).status, 200)
  assert.equal((await call(n1, 'PUT', `/nodes/${names[0]}/configs/emqx`, { key: 'mqtt.max_topic_levels', value: '3' })).status, 200)
  const doc = (await call(n1, 'GET', '/data/export')).body
  doc.sections.banned = [{ who: 'imp-evil', as: 'client_id', reason: 'r', desc: '', by: 'test', until: null, created_at: Math.floor(Date.now() / 1000) }]
  doc.sections.acl = [{ topic: 'imp/no', action: 'sub', access: 'deny' }]
  const evil = await client(t, n2, 'imp-evil')
  const watcher = await client(t, n2, 'imp-watch')
  const level = async (p: Proc, name: string): Promise<string> =>
    (await call(p, 'GET', `/nodes/${name}/configs`)).body.find((c: any) => c.key === 'mqtt.max_topic_levels').value
  const active = async (p: Proc, name: string, plugin: string): Promise<boolean> =>
    (await call(p, 'GET', `/nodes/${name}/plugins`)).body.find((x: any) => x.name === plugin).active
  assert.deepEqual([await level(n2, names[1]), await active(n2, names[1], 'emqx_auth_clientid')], ['0', false])

  // a dry run writes nowhere
  assert.equal((await call(n1, 'POST', '/data/import?dry_run=true', doc)).status, 200)
  assert.deepEqual([await level(n2, names[1]), await active(n2, names[1], 'emqx_auth_clientid'), (await call(n2, 'GET', '/banned')).body.meta.count], ['0', false, 0])
  assert.ok(evil.connected)

  const done = await call(n1, 'POST', '/data/import', doc)
  assert.equal(done.status, 200, JSON.stringify(done.body))
  assert.deepEqual([done.body.sections.banned.added, done.body.sections.acl.added], [['client_id:imp-evil'], ['all sub imp/no']])
  // on o2: the ban kicked and refuses, the rule judges, without waiting for any refresh
  await eventually(() => !evil.connected, 3000)
  await assert.rejects(mqtt.connectAsync(n2.mqtt, { clientId: 'imp-evil', reconnectPeriod: 0 }), /Not authorized/i)
  assert.deepEqual(await granted(watcher, 'imp/no', 'imp/yes'), [128, 1])
  // o2 has o1's configs and plugin states: the password works there from its hash
  assert.deepEqual([await level(n2, names[1]), await active(n2, names[1], 'emqx_auth_clientid')], ['3', true])
  const ok = await mqtt.connectAsync(n2.mqtt, { clientId: 'imp-c', username: 'any', password: 'imp-pass', reconnectPeriod: 0 })
  await ok.endAsync()
  await assert.rejects(mqtt.connectAsync(n2.mqtt, { clientId: 'imp-c', username: 'any', password: 'wrong', reconnectPeriod: 0 }), /bad user ?name or password/i)

  // again, from o2: nothing changes anywhere
  const before = await Promise.all([n1, n2].map(async (p, i) => (await call(p, 'GET', `/nodes/${names[i] as string}/configs`)).body))
  const again = await call(n2, 'POST', '/data/import', doc)
  assert.equal(again.status, 200)
  for (const [name, diff] of Object.entries(again.body.sections) as Array<[string, any]>) assert.deepEqual([name, diff.added, diff.changed], [name, [], []])
  const after = await Promise.all([n1, n2].map(async (p, i) => (await call(p, 'GET', `/nodes/${names[i] as string}/configs`)).body))
  assert.deepEqual(after, before)
})

test('an import while a node hangs: every other node gets it, the answer is 503 badrpc, and importing again completes it', { skip: SKIP, timeout: 120000 }, async (t) => {
  const three = ['h1@127.0.0.1', 'h2@127.0.0.1', 'h3@127.0.0.1'] as const
  const cl = await startCluster(t, 'observe-import-hang', three)
  const [n1, n2, n3] = cl.nodes as [Proc, Proc, Proc]
  const level = async (p: Proc, name: string): Promise<string> =>
    (await call(p, 'GET', `/nodes/${name}/configs`)).body.find((c: any) => c.key === 'mqtt.max_topic_levels').value
  assert.equal((await call(n1, 'PUT', `/nodes/${three[0]}/configs/emqx`, { key: 'mqtt.max_topic_levels', value: '4' })).status, 200)
  const doc = (await call(n1, 'GET', '/data/export')).body
  doc.sections.banned = [{ who: 'hang-evil', as: 'client_id', reason: 'r', desc: '', by: 'test', until: null, created_at: Math.floor(Date.now() / 1000) }]

  // h3 stops answering but is still a live member (its last heartbeat is fresh) when the import starts
  n3.child.kill('SIGSTOP')
  t.after(() => n3.child.kill('SIGCONT'))
  const started = Date.now()
  const r = await call(n1, 'POST', '/data/import', doc)
  t.diagnostic(`import answered ${r.status} after ${Date.now() - started} ms`)
  assert.deepEqual([r.status, r.body], [503, { message: 'badrpc', code: 101 }])
  assert.ok(Date.now() - started < 20000, `answered after ${Date.now() - started} ms`)
  // applied in the store and on the node that answered
  assert.equal(await level(n2, three[1]), '4')
  const bans = await call(n2, 'GET', '/banned')
  assert.deepEqual([bans.status, bans.body.items?.map((b: any) => b.who)], [200, ['hang-evil']], JSON.stringify(bans.body))

  n3.child.kill('SIGCONT')
  await eventually(async () => (await call(n1, 'GET', '/nodes')).body.filter((n: any) => n.node_status === 'Running').length === 3, 15000)
  assert.equal(await level(n3, three[2]), '0', 'the hung node was left out')
  const again = await call(n1, 'POST', '/data/import', doc)
  assert.equal(again.status, 200, JSON.stringify(again.body))
  assert.deepEqual([again.body.sections.configs.changed, again.body.sections.banned.added], [[], []], 'nothing changes here the second time')
  assert.equal(await level(n3, three[2]), '4', 'importing again completed it')
})
