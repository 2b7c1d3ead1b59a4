// Issue 18's actions and views beyond filters: `fields=`, bulk kickout, the pubsub batches, publish's
// `matched`, and a session's queued and inflight messages, from what real MQTT clients did.
// TEST_STORE=mongo runs the same on the MongoDB store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { MqttClient } from 'mqtt'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually, sleep } from '../support/wait.js'
import { connectCollecting, nextMessage } from '../support/mqtt.js'
import { connectPacket, subscribePacket } from '../support/frames.js'

const ids = (r: { body: any }): string[] => r.body.items.map((c: any) => c.client_id)
const subscribe = (c: MqttClient, topic: string, qos: 0 | 1 | 2 = 1): Promise<void> =>
  new Promise((resolve, reject) => c.subscribe(topic, { qos }, e => e ? reject(e) : resolve()))
const closed = (c: MqttClient): Promise<void> => new Promise(resolve => { if (c.disconnected) resolve(); else c.once('close', () => resolve()) })

async function walk (n: TestNode, path: string, limit: number): Promise<any[]> {
  const rows: any[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 100; pages++) {
    const sep = path.includes('?') ? '&' : '?'
    const r = await n.api('GET', `${path}${sep}_limit=${limit}${cursor !== undefined ? `&_cursor=${cursor}` : ''}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    rows.push(...r.body.items)
    if (!r.body.meta.hasnext) return rows
    cursor = r.body.meta.cursor
  }
  throw new Error('the cursor never ended')
}

test('fields=: only the named fields, on every list; filters, _sort and cursors still see every field; unknown names are a 400', async (t) => {
  const n = await startTestNode(t)
  const a = await n.client({ clientId: 'f-a', keepalive: 30 })
  await n.client({ clientId: 'f-b', keepalive: 50 })
  await n.client({ clientId: 'f-c', keepalive: 40 })
  await subscribe(a, 'f/+/x')
  await n.api('POST', '/banned', { body: { who: 'f-banned', as: 'client_id' } })
  await n.api('POST', '/mqtt/publish', { body: { topic: 'f/kept', payload: 'r', retain: true } })
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 3)

  const r = await n.api('GET', '/connections?fields=keepalive,client_id')
  assert.equal(r.status, 200, JSON.stringify(r.body))
  // the row's own order, whatever the order asked
  assert.deepEqual(r.body.items, [{ client_id: 'f-a', keepalive: 30 }, { client_id: 'f-b', keepalive: 50 }, { client_id: 'f-c', keepalive: 40 }])
  assert.equal(r.body.meta.count, 3)
  // sorted and walked by a field that is not returned
  const walked = await walk(n, '/connections?fields=client_id&_sort=-keepalive', 1)
  assert.deepEqual(walked, [{ client_id: 'f-b' }, { client_id: 'f-c' }, { client_id: 'f-a' }])
  assert.deepEqual((await n.api('GET', `/nodes/${n.nodeName}/connections?fields=node&clientid=f-a`)).body.items, [{ node: n.nodeName }])
  assert.deepEqual((await n.api('GET', '/sessions?fields=client_id,subscriptions_count&_like_clientid=f-a')).body.items, [{ client_id: 'f-a', subscriptions_count: 1 }])
  assert.deepEqual((await n.api('GET', '/subscriptions?fields=topic')).body.items, [{ topic: 'f/+/x' }])
  assert.deepEqual((await n.api('GET', `/nodes/${n.nodeName}/subscriptions?fields=qos`)).body.items, [{ qos: 1 }])
  assert.deepEqual((await n.api('GET', '/routes?fields=topic')).body.items, [{ topic: 'f/+/x' }])
  assert.deepEqual((await n.api('GET', '/banned?fields=who')).body.items, [{ who: 'f-banned' }])
  await eventually(async () => (await n.api('GET', '/mqtt/retainer/messages')).body.meta.count === 1)
  assert.deepEqual((await n.api('GET', '/mqtt/retainer/messages?fields=topic,payload_size')).body.items, [{ topic: 'f/kept', payload_size: 1 }])
  // a stream carries the same rows
  const res = await fetch(`${n.base}/connections?fields=client_id`, { headers: { accept: 'application/x-ndjson', authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` } })
  assert.deepEqual((await res.text()).trimEnd().split('\n').map(l => JSON.parse(l)), [{ client_id: 'f-a' }, { client_id: 'f-b' }, { client_id: 'f-c' }])

  for (const bad of ['fields=client_id,nope', 'fields=payload', 'fields=client_id,,node', 'fields=', 'fields=Client_Id']) {
    const e = await n.api('GET', `/connections?${bad}`)
    assert.equal(e.status, 400, bad)
    assert.equal(e.body.code, 108, bad)
  }
  // a field of another list is unknown here
  assert.equal((await n.api('GET', '/subscriptions?fields=keepalive')).status, 400)
  assert.match((await n.api('GET', '/routes?fields=client_id')).body.message, /topic, node/)
})

test('POST /connections/kickout/bulk: by client ids, by filter with dry_run, and the refusals', async (t) => {
  const n = await startTestNode(t)
  const clients = new Map<string, MqttClient>()
  for (const id of ['s-1', 's-2', 's-3', 'panel']) clients.set(id, await n.client({ clientId: id }))
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 4)

  const byId = await n.api('POST', '/connections/kickout/bulk', { body: ['s-1', 'ghost', 's-1'] })
  assert.equal(byId.status, 200, JSON.stringify(byId.body))
  assert.deepEqual(byId.body, { dry_run: false, count: 1, clientids: ['s-1'], not_found: ['ghost'] })
  await closed(clients.get('s-1')!)
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 3)

  const dry = await n.api('POST', '/connections/kickout/bulk?_like_clientid=s-&dry_run=true')
  assert.deepEqual(dry.body, { dry_run: true, count: 2, clientids: ['s-2', 's-3'], not_found: [] })
  // nobody was kicked
  await sleep(200)
  assert.deepEqual(ids(await n.api('GET', '/connections')), ['panel', 's-2', 's-3'])
  assert.deepEqual((await n.api('POST', '/connections/kickout/bulk?dry_run=true', { body: ['panel', 'nobody'] })).body,
    { dry_run: true, count: 1, clientids: ['panel'], not_found: ['nobody'] })

  const kicked = await n.api('POST', '/connections/kickout/bulk?_like_clientid=s-')
  assert.deepEqual(kicked.body, { dry_run: false, count: 2, clientids: ['s-2', 's-3'], not_found: [] })
  await Promise.all([closed(clients.get('s-2')!), closed(clients.get('s-3')!)])
  await eventually(async () => ids(await n.api('GET', '/connections')).join() === 'panel')
  assert.equal(clients.get('panel')!.connected, true)

  // neither a body nor a filter (that would be everyone), both, an empty list, a wrong shape, an unknown filter
  for (const [query, body] of [['', undefined], ['?clientid=panel', ['panel']], ['', []], ['', { clientid: 'panel' }], ['', [1]], ['?dry_run=true', undefined], ['?_like_clientid=p&nope=1', undefined], ['?dry_run=yes&clientid=panel', undefined]] as const) {
    const e = await n.api('POST', `/connections/kickout/bulk${query}`, body === undefined ? {} : { body })
    assert.equal(e.status, 400, `${query} ${JSON.stringify(body)}: ${JSON.stringify(e.body)}`)
    assert.ok([107, 108].includes(e.body.code), JSON.stringify(e.body))
  }
  assert.equal(clients.get('panel')!.connected, true)
})

test('POST /mqtt/publish_batch and publish?with_matched=true: one result per item, matched, and a bad item publishes nothing', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'batch-sub' })
  await subscribe(sub, 'b/+')
  const got: string[] = []
  sub.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))

  const r = await n.api('POST', '/mqtt/publish_batch', { body: [{ topic: 'b/1', payload: 'one', qos: 1 }, { topic: 'nobody/here', payload: 'lost' }, { topics: 'b/2,b/3', payload: 'many' }] })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.deepEqual(r.body, { code: 0, data: [{ topic: 'b/1', code: 0, matched: true }, { topic: 'nobody/here', code: 0, matched: false }, { topic: 'b/2,b/3', code: 0, matched: true }] })
  await eventually(() => got.length === 3)
  assert.deepEqual(got, ['b/1=one', 'b/2=many', 'b/3=many'])

  // one bad item: a 400 naming it, and none of the batch published (a later marker arrives first)
  const bad = await n.api('POST', '/mqtt/publish_batch', { body: [{ topic: 'b/4', payload: 'no' }, { topic: 'b/#', payload: 'no' }] })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.code, 115)
  assert.match(bad.body.message, /item 1/)
  const missing = await n.api('POST', '/mqtt/publish_batch', { body: [{ topic: 'b/4', payload: 'no' }, { payload: 'no topic' }] })
  assert.equal(missing.status, 400)
  assert.equal(missing.body.code, 107)
  for (const body of [[], {}, [{ topic: 'b/5', nope: 1 }], Array.from({ length: 1001 }, () => ({ topic: 'b/6' }))]) {
    assert.equal((await n.api('POST', '/mqtt/publish_batch', { body })).status, 400, JSON.stringify(body).slice(0, 80))
  }
  assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: 'b/marker', payload: 'm' } })).body, { code: 0 })
  await eventually(() => got.length === 4)
  assert.deepEqual(got.slice(3), ['b/marker=m'])

  // publish: `matched` only when asked, the seed answer unchanged otherwise
  assert.deepEqual((await n.api('POST', '/mqtt/publish?with_matched=true', { body: { topic: 'b/7', payload: 'x' } })).body, { code: 0, matched: true })
  assert.deepEqual((await n.api('POST', '/mqtt/publish?with_matched=true', { body: { topic: 'elsewhere', payload: 'x' } })).body, { code: 0, matched: false })
  assert.deepEqual((await n.api('POST', '/mqtt/publish?with_matched=false', { body: { topic: 'b/8', payload: 'x' } })).body, { code: 0 })
  assert.deepEqual((await n.api('POST', '/mqtt/publish?with_matched=true', { body: { topic: 'b/#', payload: 'x' } })).body, { code: 115 })
  assert.equal((await n.api('POST', '/mqtt/publish?with_matched=yes', { body: { topic: 'b/9', payload: 'x' } })).status, 400)
  // an offline persistent session's subscription is a match too
  const off = await n.client({ clientId: 'batch-off', clean: false })
  await subscribe(off, 'offline/t')
  await off.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions?conn_state=disconnected')).body.meta.count === 1)
  assert.deepEqual((await n.api('POST', '/mqtt/publish?with_matched=true', { body: { topic: 'offline/t', payload: 'q', qos: 1 } })).body, { code: 0, matched: true })
})

test('POST /mqtt/subscribe_batch and unsubscribe_batch: per-item codes, and a bad filter anywhere changes nothing', async (t) => {
  const n = await startTestNode(t)
  const c1 = await n.client({ clientId: 'sb-1' })
  await n.client({ clientId: 'sb-2' })
  const subs = async (): Promise<string[]> => (await n.api('GET', '/subscriptions')).body.items.map((s: any) => `${s.client_id}:${s.topic}:${s.qos}`)

  const r = await n.api('POST', '/mqtt/subscribe_batch', { body: [{ topic: 'alerts/#', qos: 1, client_id: 'sb-1' }, { topic: 'x/1,x/2', qos: 2, client_id: 'sb-2' }, { topic: 'alerts/#', client_id: 'ghost' }] })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.deepEqual(r.body, { code: 0, data: [{ topic: 'alerts/#', client_id: 'sb-1', code: 0 }, { topic: 'x/1,x/2', client_id: 'sb-2', code: 0 }, { topic: 'alerts/#', client_id: 'ghost', code: 112 }] })
  assert.deepEqual(await subs(), ['sb-1:alerts/#:1', 'sb-2:x/1:2', 'sb-2:x/2:2'])
  // the subscription is real: sb-1 receives
  const msg = nextMessage(c1)
  await n.api('POST', '/mqtt/publish', { body: { topic: 'alerts/fire', payload: 'hot', qos: 1 } })
  assert.equal((await msg).payload, 'hot')

  const bad = await n.api('POST', '/mqtt/subscribe_batch', { body: [{ topic: 'y/1', client_id: 'sb-1' }, { topic: 'y/#/z', client_id: 'sb-2' }] })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.code, 115)
  assert.equal((await n.api('POST', '/mqtt/subscribe_batch', { body: [{ topic: 'y/1' }] })).status, 400)
  assert.deepEqual(await subs(), ['sb-1:alerts/#:1', 'sb-2:x/1:2', 'sb-2:x/2:2'])

  const badUn = await n.api('POST', '/mqtt/unsubscribe_batch', { body: [{ topic: 'x/1', client_id: 'sb-2' }, { topic: '', client_id: 'sb-2' }] })
  assert.equal(badUn.status, 400)
  assert.deepEqual(await subs(), ['sb-1:alerts/#:1', 'sb-2:x/1:2', 'sb-2:x/2:2'])
  const un = await n.api('POST', '/mqtt/unsubscribe_batch', { body: [{ topic: 'x/1', client_id: 'sb-2' }, { topic: 'alerts/#', client_id: 'ghost' }] })
  assert.deepEqual(un.body, { code: 0, data: [{ topic: 'x/1', client_id: 'sb-2', code: 0 }, { topic: 'alerts/#', client_id: 'ghost', code: 112 }] })
  assert.deepEqual(await subs(), ['sb-1:alerts/#:1', 'sb-2:x/2:2'])
})

test('GET /sessions/{clientid}/mqueue_messages and inflight_messages: what the store holds, cursor-paged', async (t) => {
  const n = await startTestNode(t)
  // a raw client that never acknowledges: its QoS 1 messages stay in flight
  const raw = net.connect(n.node.ports.mqtt, '127.0.0.1')
  t.after(() => { raw.destroy() })
  let seen = Buffer.alloc(0)
  raw.on('data', d => { seen = Buffer.concat([seen, d]) })
  await new Promise<void>(resolve => raw.once('connect', () => resolve()))
  raw.write(connectPacket('m-raw', false))
  raw.write(subscribePacket(1, ['m/in'], 1))
  await eventually(() => seen.includes(Buffer.from([0x90, 3, 0, 1])))
  const pub = await n.client({ clientId: 'm-pub' })
  await pub.publishAsync('m/in', 'unacked', { qos: 1 })
  const inflight = await eventually(async () => {
    const r = await n.api('GET', '/sessions/m-raw/inflight_messages')
    return r.body.meta?.count === 1 ? r : null
  })
  assert.equal(inflight.status, 200)
  const [m] = inflight.body.items
  assert.equal(m.topic, 'm/in')
  assert.equal(m.qos, 1)
  assert.equal(Buffer.from(m.payload, 'base64').toString(), 'unacked')
  assert.equal(m.payload_size, 7)
  assert.equal(typeof m.packet_id, 'number')
  assert.deepEqual((await n.api('GET', '/sessions/m-raw/mqueue_messages')).body.items, [])

  // an offline persistent session: everything published meanwhile is queued, oldest first
  const off = await n.client({ clientId: 'm-off', clean: false })
  await subscribe(off, 'm/q/+', 2)
  await off.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions?clientid=m-off&conn_state=disconnected')).body.meta.count === 1)
  for (let i = 0; i < 5; i++) await pub.publishAsync(`m/q/${i}`, `p${i}`, { qos: (i % 2) + 1 as 1 | 2 })
  await pub.publishAsync('m/q/zero', 'not queued', { qos: 0 })
  const rows = await eventually(async () => {
    const all = await walk(n, '/sessions/m-off/mqueue_messages', 2)
    return all.length >= 5 ? all : null
  })
  assert.deepEqual(rows.map(r => [r.topic, r.qos, Buffer.from(r.payload, 'base64').toString()]),
    [0, 1, 2, 3, 4].map(i => [`m/q/${i}`, (i % 2) + 1, `p${i}`]))
  assert.equal(new Set(rows.map(r => r.msgid)).size, 5)
  assert.ok(rows.every(r => r.packet_id === undefined))
  const page = await n.api('GET', '/sessions/m-off/mqueue_messages?_limit=2')
  assert.deepEqual({ count: page.body.meta.count, hasnext: page.body.meta.hasnext }, { count: 5, hasnext: true })
  assert.deepEqual((await n.api('GET', '/sessions/m-off/inflight_messages')).body.items, [])

  // the client comes back and takes its queue: the views follow the store
  const back = await n.client({ clientId: 'm-off', clean: false })
  t.after(() => back.endAsync(true))
  await eventually(async () => (await n.api('GET', '/sessions/m-off/mqueue_messages')).body.meta.count === 0)
  // a cursor of rows already delivered starts again at the head, repeating nothing
  const after = await n.api('GET', `/sessions/m-off/mqueue_messages?_cursor=${page.body.meta.cursor}`)
  assert.equal(after.status, 200)
  assert.deepEqual(after.body.items, [])

  assert.equal((await n.api('GET', '/sessions/nobody/mqueue_messages')).status, 404)
  assert.equal((await n.api('GET', '/sessions/nobody/inflight_messages')).status, 404)
  assert.equal((await n.api('GET', '/sessions/m-off/mqueue_messages?_cursor=bogus')).status, 400)
  assert.equal((await n.api('GET', '/sessions/m-off/mqueue_messages?_sort=topic')).status, 400)
  assert.equal((await n.api('GET', '/sessions/m-off/inflight_messages?_limit=0')).status, 400)
})

test('subscribe on behalf with offline=true: an offline session queues at once; a never-seen client id is applied at its first clean=false CONNECT', async (t) => {
  const n = await startTestNode(t)
  const pub = await n.client({ clientId: 'ob-pub' })
  const subsOf = async (id: string): Promise<string[]> => (await n.api('GET', `/subscriptions?clientid=${id}`)).body.items.map((s: any) => `${s.topic}:${s.qos}`)
  const off = await n.client({ clientId: 'ob-1', clean: false })
  await subscribe(off, 'ob/keep')
  await off.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions?clientid=ob-1&conn_state=disconnected')).body.meta.count === 1)

  // the seed's answer stays without offline=true
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 'ob/t', client_id: 'ob-1', qos: 1 } })).body, { code: 112 })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 'ob/t', client_id: 'ob-never', qos: 1 } })).body, { code: 112 })
  assert.deepEqual(await subsOf('ob-1'), ['ob/keep:1'])

  assert.deepEqual((await n.api('POST', '/mqtt/subscribe?offline=true', { body: { topic: 'ob/t', client_id: 'ob-1', qos: 1 } })).body, { code: 0 })
  assert.deepEqual(await subsOf('ob-1'), ['ob/keep:1', 'ob/t:1'])
  // queueing starts at once
  await pub.publishAsync('ob/t', 'queued-1', { qos: 1 })
  await eventually(async () => (await n.api('GET', '/sessions/ob-1/mqueue_messages')).body.meta.count === 1)
  const back = await connectCollecting(t, n.mqttUrl, { clientId: 'ob-1', clean: false })
  assert.equal(back.connack.sessionPresent, true)
  await eventually(() => back.received.includes('queued-1'))
  await pub.publishAsync('ob/t', 'live-1', { qos: 1 })
  await eventually(() => back.received.includes('live-1'))

  // a client id no node knows: a persistent session, offline, queueing at once
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe_batch?offline=true', { body: [{ topic: 'ob/new', client_id: 'ob-new', qos: 1 }] })).body,
    { code: 0, data: [{ topic: 'ob/new', client_id: 'ob-new', code: 0 }] })
  const s = (await n.api('GET', '/sessions?clientid=ob-new')).body.items
  assert.deepEqual(s.map((x: any) => [x.client_id, x.clean_start, x.subscriptions_count]), [['ob-new', false, 1]])
  assert.equal((await n.api('GET', '/sessions?clientid=ob-new&conn_state=disconnected')).body.meta.count, 1)
  await pub.publishAsync('ob/new', 'early', { qos: 1 })
  await eventually(async () => (await n.api('GET', '/sessions/ob-new/mqueue_messages')).body.meta.count === 1)
  const first = await connectCollecting(t, n.mqttUrl, { clientId: 'ob-new', clean: false })
  await eventually(() => first.received.includes('early'))
  await pub.publishAsync('ob/new', 'later', { qos: 1 })
  await eventually(() => first.received.includes('later'))

  // a clean=true CONNECT discards it, as any session
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe?offline=true', { body: { topic: 'ob/clean', client_id: 'ob-clean', qos: 1 } })).body, { code: 0 })
  const clean = await connectCollecting(t, n.mqttUrl, { clientId: 'ob-clean', clean: true })
  assert.equal(clean.connack.sessionPresent, false)
  await eventually(async () => (await subsOf('ob-clean')).length === 0)
  await pub.publishAsync('ob/clean', 'never', { qos: 1 })
  await pub.publishAsync('ob/new', 'marker', { qos: 1 })
  await eventually(() => first.received.includes('marker'))
  assert.deepEqual(clean.received, [])

  // offline unsubscribe; a shared filter needs its client online; bad values
  await back.client.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions?clientid=ob-1&conn_state=disconnected')).body.meta.count === 1)
  assert.deepEqual((await n.api('POST', '/mqtt/unsubscribe', { body: { topic: 'ob/t', client_id: 'ob-1' } })).body, { code: 112 })
  assert.deepEqual((await n.api('POST', '/mqtt/unsubscribe?offline=true', { body: { topic: 'ob/t', client_id: 'ob-1' } })).body, { code: 0 })
  assert.deepEqual(await subsOf('ob-1'), ['ob/keep:1'])
  assert.deepEqual((await n.api('POST', '/mqtt/unsubscribe_batch?offline=true', { body: [{ topic: 'ob/keep', client_id: 'ob-gone' }] })).body.data[0].code, 112)
  const shared = await n.api('POST', '/mqtt/subscribe?offline=true', { body: { topic: '$share/g/ob/s', client_id: 'ob-1', qos: 1 } })
  assert.equal(shared.status, 400)
  assert.equal(shared.body.code, 108)
  assert.deepEqual(await subsOf('ob-1'), ['ob/keep:1'])
  assert.equal((await n.api('POST', '/mqtt/subscribe?offline=yes', { body: { topic: 'ob/t', client_id: 'ob-1' } })).status, 400)
})

test('_like_clientid and _match_topic through their indexes: every id once, in order, matches at id edges; the index follows clients coming and going', async (t) => {
  const n = await startTestNode(t)
  const c = new Map<string, MqttClient>()
  for (const id of ['ab', 'abab', 'bab', 'b', 'zz']) c.set(id, await n.client({ clientId: id }))
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 5)
  const like = async (s: string): Promise<string[]> => ids(await n.api('GET', `/connections?_like_clientid=${s}`))
  assert.deepEqual(await like('ab'), ['ab', 'abab', 'bab'])
  assert.deepEqual(await like('b'), ['ab', 'abab', 'b', 'bab'])
  assert.deepEqual(await like('ba'), ['abab', 'bab'])
  assert.deepEqual(await like('bz'), [])
  assert.deepEqual(await like('z'), ['zz'])
  assert.deepEqual(ids(await n.api('GET', '/connections?_like_clientid=b&clientid=bab')), ['bab'])
  await c.get('abab')!.endAsync()
  await n.client({ clientId: 'xab' })
  await eventually(async () => (await like('ab')).join() === 'ab,bab,xab')

  await subscribe(c.get('zz')!, 'm/+')
  await subscribe(c.get('b')!, 'm/#')
  await subscribe(c.get('b')!, 'm/1')
  await subscribe(c.get('ab')!, 'other')
  const who = async (topic: string): Promise<string[]> => (await n.api('GET', `/subscriptions?_match_topic=${topic}`)).body.items.map((s: any) => `${s.client_id}:${s.topic}`)
  assert.deepEqual(await who('m/1'), ['b:m/#', 'b:m/1', 'zz:m/+'])
  assert.deepEqual(await who('m/2/3'), ['b:m/#'])
  assert.deepEqual((await n.api('GET', '/subscriptions?_match_topic=m/1&clientid=zz')).body.items.map((s: any) => s.topic), ['m/+'])
  await c.get('zz')!.endAsync()
  await eventually(async () => (await who('m/1')).join() === 'b:m/#,b:m/1')
})
