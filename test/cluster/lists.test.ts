// Filters, _sort and cursors, the retained messages and discarding a session, across two real cluster nodes: each node filters its own rows, the
// merged list is in one stable order, `meta.count` is exact and a cursor walks across both nodes.
// Needs MONGODB_TEST_URL and redis-server (harness.ts); skipped otherwise.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { eventually } from '../support/wait.js'
import { call, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient } from '../support/mqtt.js'

const names = ['l1@127.0.0.1', 'l2@127.0.0.1'] as const

const client = (t: TestContext, p: Proc, clientId: string, keepalive = 60): Promise<MqttClient> => mqttClient(t, p.mqtt, { clientId, keepalive })
const subscribe = (c: MqttClient, topic: string): Promise<void> => new Promise((resolve, reject) => c.subscribe(topic, { qos: 1 }, e => e ? reject(e) : resolve()))

async function walk (p: Proc, path: string, limit: number): Promise<any[]> {
  const rows: any[] = []
  let cursor: string | undefined
  for (;;) {
    const sep = path.includes('?') ? '&' : '?'
    const r = await call(p, 'GET', `${path}${sep}_limit=${limit}${cursor !== undefined ? `&_cursor=${cursor}` : ''}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    rows.push(...r.body.items)
    if (!r.body.meta.hasnext) return rows
    cursor = r.body.meta.cursor
  }
}

test('lists across two nodes: filtered on each node, merged in one order, exact counts, cursors across nodes', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'lists', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  // interleaved ids, so the merge (not the concatenation) decides the sorted order
  const on1 = ['dev-a', 'dev-c', 'dev-e', 'ops-1']
  const on2 = ['dev-b', 'dev-d', 'ops-2']
  const c1 = await Promise.all(on1.map((id, i) => client(t, n1, id, 10 + i)))
  const c2 = await Promise.all(on2.map((id, i) => client(t, n2, id, 20 + i)))
  await subscribe(c1[0]!, 'room/+/temp')
  await subscribe(c2[0]!, 'room/#')
  await subscribe(c2[1]!, 'other/x')
  for (const p of cl.nodes) await eventually(async () => (await call(p, 'GET', '/subscriptions')).body.meta.count === 3)

  for (const p of cl.nodes) {
    const dev = await call(p, 'GET', '/connections?_like_clientid=dev-')
    assert.equal(dev.body.meta.count, 5)
    // the default order is node, then client id
    assert.deepEqual(dev.body.items.map((c: any) => [c.node, c.client_id]),
      [...['dev-a', 'dev-c', 'dev-e'].map(id => [names[0], id]), ...['dev-b', 'dev-d'].map(id => [names[1], id])])
    const sorted = await call(p, 'GET', '/connections?_like_clientid=dev-&_sort=client_id')
    assert.deepEqual(sorted.body.items.map((c: any) => c.client_id), ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-e'])
    // a cursor walk of two rows a page crosses nodes without repeating or skipping
    const walked = await walk(p, '/connections?_sort=client_id', 2)
    assert.deepEqual(walked.map(c => c.client_id), [...on1, ...on2].sort())
    const byKeepalive = await walk(p, '/connections?_sort=-keepalive', 3)
    assert.deepEqual(byKeepalive.map(c => c.keepalive), [22, 21, 20, 13, 12, 11, 10])
    const defaultWalk = await walk(p, '/connections', 3)
    assert.deepEqual(defaultWalk.map(c => c.client_id), [...on1, ...on2])

    assert.deepEqual((await call(p, 'GET', '/sessions?_like_clientid=ops-&_sort=-client_id')).body.items.map((s: any) => [s.client_id, s.node]),
      [['ops-2', names[1]], ['ops-1', names[0]]])
    const matched = await call(p, 'GET', '/subscriptions?_match_topic=room/1/temp')
    assert.deepEqual(matched.body.items.map((s: any) => [s.node, s.client_id, s.topic]),
      [[names[0], 'dev-a', 'room/+/temp'], [names[1], 'dev-b', 'room/#']])
    assert.equal(matched.body.meta.count, 2)
    const routes = await call(p, 'GET', '/routes?_match_topic=room/1/temp')
    assert.deepEqual(routes.body.items.map((r: any) => [r.topic, r.node]), [['room/#', names[1]], ['room/+/temp', names[0]]])
    // a bad value is refused before any node is asked
    assert.equal((await call(p, 'GET', '/connections?ip_address=1.2.3')).body.code, 108)
  }

  // clients come and go between pages: the cursor still continues after the last row seen
  const page1 = await call(n1, 'GET', '/connections?_sort=client_id&_limit=3')
  assert.deepEqual(page1.body.items.map((c: any) => c.client_id), ['dev-a', 'dev-b', 'dev-c'])
  c1[0]!.end(true)
  await client(t, n2, 'dev-0')
  await eventually(async () => (await call(n1, 'GET', '/connections?clientid=dev-0')).body.meta.count === 1 &&
    (await call(n1, 'GET', '/connections?clientid=dev-a')).body.meta.count === 0)
  const page2 = await call(n1, 'GET', `/connections?_sort=client_id&_limit=3&_cursor=${page1.body.meta.cursor}`)
  assert.deepEqual(page2.body.items.map((c: any) => c.client_id), ['dev-d', 'dev-e', 'ops-1'])
  assert.equal(page2.body.meta.count, 7)
  // the cursor made on one node is good on the other
  const page2b = await call(n2, 'GET', `/connections?_sort=client_id&_limit=3&_cursor=${page1.body.meta.cursor}`)
  assert.deepEqual(page2b.body.items, page2.body.items)

  // retained messages are shared: stored through either node, listed, read and cleared on both
  const pub1 = await client(t, n1, 'ret-pub-1')
  const pub2 = await client(t, n2, 'ret-pub-2')
  await pub1.publishAsync('ret/1', 'one', { qos: 1, retain: true })
  await pub2.publishAsync('ret/2', 'two', { qos: 1, retain: true })
  await pub2.publishAsync('keep/3', 'three', { qos: 1, retain: true })
  for (const p of cl.nodes) {
    const r = await eventually(async () => {
      const l = await call(p, 'GET', '/mqtt/retainer/messages')
      return l.body.meta.count === 3 ? l : null
    })
    assert.deepEqual(r.body.items.map((m: any) => m.topic), ['keep/3', 'ret/1', 'ret/2'])
    assert.equal(Buffer.from((await call(p, 'GET', '/mqtt/retainer/message/ret%2F2')).body.payload, 'base64').toString(), 'two')
  }
  assert.deepEqual((await call(n2, 'DELETE', '/mqtt/retainer/messages?_match_topic=ret/%23')).body, { deleted: 2 })
  assert.deepEqual((await call(n1, 'GET', '/mqtt/retainer/messages')).body.items.map((m: any) => m.topic), ['keep/3'])
  assert.equal((await call(n1, 'GET', '/mqtt/retainer/message/ret%2F1')).status, 404)

  // a persistent session on one node is discarded through the other: kicked there, gone everywhere
  const keeper = await mqttClient(t, n2.mqtt, { clientId: 'keeper', clean: false })
  await subscribe(keeper, 'kept/1')
  const kicked = new Promise<void>(resolve => keeper.once('close', () => resolve()))
  assert.equal((await call(n1, 'DELETE', '/sessions/keeper')).status, 200)
  await kicked
  for (const p of cl.nodes) {
    await eventually(async () => (await call(p, 'GET', '/sessions/keeper')).body.length === 0)
    assert.equal((await call(p, 'GET', '/subscriptions?clientid=keeper')).body.meta.count, 0)
  }
  const back = await mqttClient(t, n1.mqtt, { clientId: 'keeper', clean: false })
  assert.deepEqual((await call(n2, 'GET', '/subscriptions?clientid=keeper')).body.items, [])
  back.end(true)
  assert.equal((await call(n2, 'DELETE', '/sessions/nobody')).status, 404)
  for (const c of [...c1, ...c2, pub1, pub2]) c.end(true)
})

test('issue 18 actions across two nodes: fields, bulk kickout, batches and matched, a session\'s queue and subscribe on behalf, asked on either node', { skip: SKIP, timeout: 180000 }, async (t) => {
  const cl = await startCluster(t, 'listacts', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const a = await client(t, n1, 'act-a')
  const b = await client(t, n2, 'act-b')
  await client(t, n1, 'act-c')
  await client(t, n2, 'other-d')
  for (const p of cl.nodes) await eventually(async () => (await call(p, 'GET', '/connections')).body.meta.count === 4)

  // fields on the merged list, in the merged order
  assert.deepEqual((await call(n2, 'GET', '/connections?fields=client_id,node&_sort=client_id&_like_clientid=act-')).body.items,
    [{ client_id: 'act-a', node: names[0] }, { client_id: 'act-b', node: names[1] }, { client_id: 'act-c', node: names[0] }])

  // subscribe_batch from node 1 reaches a client on node 2; matched sees a subscription on the other node only
  const sb = await call(n1, 'POST', '/mqtt/subscribe_batch', [{ topic: 'x/b', qos: 1, client_id: 'act-b' }, { topic: 'x/a', qos: 1, client_id: 'act-a' }, { topic: 'x/z', client_id: 'ghost' }])
  assert.deepEqual(sb.body.data.map((d: any) => d.code), [0, 0, 112])
  // the route of x/b reaches node 1 through the bus
  await eventually(async () => (await call(n1, 'GET', '/routes?_match_topic=x/b')).body.meta.count === 1)
  const got = new Promise<string>(resolve => b.once('message', (_t, m) => resolve(m.toString())))
  const pb = await call(n1, 'POST', '/mqtt/publish_batch', [{ topic: 'x/b', payload: 'to-b', qos: 1 }, { topic: 'x/none', payload: 'n' }])
  assert.deepEqual(pb.body.data.map((d: any) => d.matched), [true, false])
  assert.equal(await got, 'to-b')
  assert.deepEqual((await call(n1, 'POST', '/mqtt/publish?with_matched=true', { topic: 'x/b', payload: 'again' })).body, { code: 0, matched: true })
  assert.deepEqual((await call(n2, 'POST', '/mqtt/unsubscribe_batch', [{ topic: 'x/a', client_id: 'act-a' }])).body.data, [{ topic: 'x/a', client_id: 'act-a', code: 0 }])
  assert.deepEqual((await call(n2, 'GET', '/subscriptions?clientid=act-a')).body.items, [])

  // bulk kickout by filter through node 2: the dry run lists both nodes' clients, the real one kicks them on their nodes
  const dry = await call(n2, 'POST', '/connections/kickout/bulk?_like_clientid=act-&dry_run=true')
  assert.deepEqual(dry.body, { dry_run: true, count: 3, clientids: ['act-a', 'act-b', 'act-c'], not_found: [] })
  const closedA = new Promise<void>(resolve => a.once('close', () => resolve()))
  const byId = await call(n2, 'POST', '/connections/kickout/bulk', ['act-a', 'act-b', 'ghost'])
  assert.deepEqual(byId.body, { dry_run: false, count: 2, clientids: ['act-a', 'act-b'], not_found: ['ghost'] })
  await closedA
  for (const p of cl.nodes) await eventually(async () => (await call(p, 'GET', '/connections')).body.items.map((c: any) => c.client_id).join() === 'act-c,other-d')

  // an offline session on node 2: subscribed on behalf through node 1, its queue read through node 1
  const keeper = await mqttClient(t, n2.mqtt, { clientId: 'act-keeper', clean: false })
  await subscribe(keeper, 'k/1')
  await keeper.endAsync()
  await eventually(async () => (await call(n1, 'GET', '/sessions?clientid=act-keeper&conn_state=disconnected')).body.meta.count === 1)
  assert.deepEqual((await call(n1, 'POST', '/mqtt/subscribe', { topic: 'k/2', qos: 1, client_id: 'act-keeper' })).body, { code: 112 })
  assert.deepEqual((await call(n1, 'POST', '/mqtt/subscribe?offline=true', { topic: 'k/2', qos: 1, client_id: 'act-keeper' })).body, { code: 0 })
  assert.deepEqual((await call(n1, 'GET', '/subscriptions?clientid=act-keeper')).body.items.map((s: any) => [s.topic, s.node]), [['k/1', names[1]], ['k/2', names[1]]])
  const pub = await client(t, n1, 'act-pub')
  await pub.publishAsync('k/2', 'queued-on-2', { qos: 1 })
  const q = await eventually(async () => {
    const r = await call(n1, 'GET', '/sessions/act-keeper/mqueue_messages')
    return r.body.meta?.count === 1 ? r : null
  })
  assert.equal(Buffer.from(q.body.items[0].payload, 'base64').toString(), 'queued-on-2')
  assert.deepEqual((await call(n2, 'GET', '/sessions/act-keeper/inflight_messages')).body.items, [])
  assert.equal((await call(n1, 'GET', '/sessions/nobody/mqueue_messages')).status, 404)
  // a never-seen client id: one session, on the node asked (not one per node)
  assert.deepEqual((await call(n2, 'POST', '/mqtt/subscribe?offline=true', { topic: 'k/new', qos: 1, client_id: 'act-new' })).body, { code: 0 })
  for (const p of cl.nodes) {
    assert.deepEqual((await call(p, 'GET', '/sessions?clientid=act-new')).body.items.map((s: any) => [s.node, s.clean_start]), [[names[1], false]])
  }
})
