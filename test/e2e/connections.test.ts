// Connections, sessions, subscriptions and routes answer from what real MQTT clients did.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

test('a TCP client with a username and a WebSocket client without one are listed with their fields', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'tcp-1', username: 'alice', password: 'x', keepalive: 30 })
  await n.client({ clientId: 'ws-1', keepalive: 45, ws: true, clean: false, protocolVersion: 3, protocolId: 'MQIsdp' })
  const list = await eventually(async () => {
    const r = await n.api('GET', '/connections/')
    return r.body.meta.count === 2 ? r : null
  })
  assert.equal(list.status, 200)
  const [tcp, ws] = list.body.items as any[]
  assert.equal(tcp.client_id, 'tcp-1')
  assert.equal(tcp.username, 'alice')
  assert.equal(tcp.keepalive, 30)
  assert.equal(tcp.clean_start, true)
  assert.equal(tcp.proto_ver, 4)
  assert.equal(tcp.proto_name, 'MQTT')
  assert.equal(tcp.ipaddress, '127.0.0.1')
  assert.equal(tcp.node, n.nodeName)
  assert.equal(tcp.peercert, 'nossl')
  assert.match(tcp.connected_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  assert.equal(ws.client_id, 'ws-1')
  assert.equal(ws.username, 'undefined')
  assert.equal(ws.keepalive, 45)
  assert.equal(ws.clean_start, false)
  assert.equal(ws.proto_ver, 3)
  assert.equal(ws.proto_name, 'MQIsdp')
  assert.equal(ws.ipaddress, '127.0.0.1')
  assert.ok(ws.port > 0)

  const one = await n.api('GET', '/connections/tcp-1')
  assert.deepEqual(one.body.map((c: any) => c.client_id), ['tcp-1'])
  const onNode = await n.api('GET', `/nodes/${n.nodeName}/connections/ws-1`)
  assert.deepEqual(onNode.body.map((c: any) => c.client_id), ['ws-1'])
  assert.deepEqual((await n.api('GET', '/connections/nobody')).body, [])
  assert.equal((await n.api('GET', '/nodes/other@host/connections/')).status, 404)
})

test('pages of connections do not overlap or skip, and count is the total', async (t) => {
  const n = await startTestNode(t)
  for (let i = 0; i < 5; i++) await n.client({ clientId: `c${i}` })
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 5)
  const seen: string[] = []
  for (let page = 1; page <= 3; page++) {
    const r = await n.api('GET', `/connections?_page=${page}&_limit=2`)
    const { cursor, ...meta } = r.body.meta
    assert.deepEqual(meta, { count: 5, limit: 2, page, hasnext: page < 3 })
    assert.equal(typeof cursor, page < 3 ? 'string' : 'undefined')
    seen.push(...r.body.items.map((c: any) => c.client_id))
  }
  assert.deepEqual(seen, ['c0', 'c1', 'c2', 'c3', 'c4'])
  const past = await n.api('GET', '/connections?_page=4&_limit=2')
  assert.deepEqual(past.body, { items: [], meta: { count: 5, limit: 2, page: 4, hasnext: false } })
  const capped = await n.api('GET', '/connections?_limit=99999')
  assert.equal(capped.body.meta.limit, 10000)
})

test('kickout closes the client\'s socket at once; an unknown client is 404 not_found', async (t) => {
  const n = await startTestNode(t)
  const c = await n.client({ clientId: 'victim' })
  const closed = new Promise<void>(resolve => c.once('close', () => resolve()))
  const r = await n.api('DELETE', '/connections/victim')
  assert.equal(r.status, 200)
  assert.equal(r.body, 'ok')
  await closed
  await eventually(async () => (await n.api('GET', '/connections/victim')).body.length === 0)
  const gone = await n.api('DELETE', '/connections/victim')
  assert.equal(gone.status, 404)
  assert.deepEqual(gone.body, { message: 'not_found', code: 112 })
  const listeners = await n.api('GET', `/nodes/${n.nodeName}/listeners`)
  const tcp = listeners.body.find((l: any) => l.protocol === 'mqtt:tcp')
  assert.equal(tcp.shutdown_count.kicked, 1)
})

test('sessions: a persistent session stays listed while its client is away, with its queue length', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'keeper', clean: false })
  await sub.subscribeAsync('q/1', { qos: 1 })
  await sub.endAsync()
  for (let i = 0; i < 3; i++) {
    assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: 'q/1', payload: `m${i}`, qos: 1 } })).body, { code: 0 })
  }
  const s = await eventually(async () => {
    const r = await n.api('GET', '/sessions/keeper')
    return r.body[0]?.mqueue_len === 3 ? r.body[0] : null
  })
  assert.equal(s.clean_start, false)
  assert.equal(s.subscriptions_count, 1)
  assert.equal(s.expiry_interval, 7200)
  const page = await n.api('GET', '/sessions/')
  assert.equal(page.body.meta.count, 1)
  assert.deepEqual((await n.api('GET', `/nodes/${n.nodeName}/sessions/nobody`)).body, [])
})

test('a clean CONNECT discards a stored session and everything queued for it [MQTT-3.1.2-6]', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'leaver', clean: false })
  await sub.subscribeAsync('q/2', { qos: 1 })
  await sub.endAsync()
  for (let i = 0; i < 5; i++) await n.api('POST', '/mqtt/publish', { body: { topic: 'q/2', payload: `m${i}`, qos: 1 } })
  await eventually(async () => (await n.api('GET', '/sessions/leaver')).body[0]?.mqueue_len === 5)
  const clean = await n.client({ clientId: 'leaver', clean: true })
  const got: string[] = []
  clean.on('message', (_topic, payload) => got.push(payload.toString()))
  await new Promise(resolve => setTimeout(resolve, 200))
  await clean.endAsync()
  assert.equal(got.join(','), '', 'a clean session gets nothing of the discarded one')
  await eventually(async () => (await n.api('GET', '/sessions/leaver')).body.length === 0)
  // back as a persistent session: nothing of the old one is left
  const again = await n.client({ clientId: 'leaver', clean: false })
  t.after(() => again.endAsync(true))
  again.on('message', (_topic, payload) => got.push(payload.toString()))
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.deepEqual(got, [])
  assert.equal((await n.api('GET', '/sessions/leaver')).body[0]?.mqueue_len, 0)
})

test('subscriptions and routes follow what clients subscribe and unsubscribe', async (t) => {
  const n = await startTestNode(t)
  const a = await n.client({ clientId: 'sub-a' })
  const b = await n.client({ clientId: 'sub-b' })
  await a.subscribeAsync('x/y', { qos: 1 })
  await b.subscribeAsync(['x/y', 's/+/t'], { qos: 0 })
  const subs = await eventually(async () => {
    const r = await n.api('GET', '/subscriptions')
    return r.body.meta.count === 3 ? r.body.items : null
  })
  assert.deepEqual(subs.map((s: any) => [s.client_id, s.topic, s.qos]), [['sub-a', 'x/y', 1], ['sub-b', 's/+/t', 0], ['sub-b', 'x/y', 0]])
  assert.deepEqual((await n.api('GET', '/subscriptions/sub-a')).body, [{ client_id: 'sub-a', node: n.nodeName, qos: 1, topic: 'x/y' }])
  const routes = await n.api('GET', '/routes')
  assert.deepEqual(routes.body.items, [{ topic: 's/+/t', node: n.nodeName }, { topic: 'x/y', node: n.nodeName }])
  assert.deepEqual((await n.api('GET', '/routes/x%2Fy')).body, [{ topic: 'x/y', node: n.nodeName }])
  assert.deepEqual((await n.api('GET', '/routes/x/y')).body, [{ topic: 'x/y', node: n.nodeName }])
  await b.unsubscribeAsync('s/+/t')
  await eventually(async () => (await n.api('GET', '/routes/s%2F%2B%2Ft')).body.length === 0)
})
