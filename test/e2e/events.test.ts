// GET /events (Server-Sent Events) read by a real EventSource client (the eventsource package):
// every event type of one node with real MQTT clients, the filters, resuming with Last-Event-ID
// across a cut connection without gaps or duplicates, and a slow reader cut off.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startTestNode, type TestNode } from '../helpers.js'
import { AUTH, listen, sleep, type Ev } from '../events-client.js'
import { CuttableProxy } from '../store-proxy.js'
import { parsePosition } from '../../src/services/events.js'

/** A bare MQTT 3.1.1 CONNECT (clean session) over a raw socket, answered by CONNACK. */
async function rawConnect (n: TestNode, clientId: string, keepalive: number): Promise<net.Socket> {
  const sock = net.connect(n.node.ports.mqtt, '127.0.0.1')
  const id = Buffer.from(clientId)
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 0x02, keepalive >> 8, keepalive & 0xff, id.length >> 8, id.length & 0xff]), id])
  sock.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
  await new Promise<void>((resolve) => sock.once('data', () => resolve()))
  return sock
}

const reasonOf = async (s: Awaited<ReturnType<typeof listen>>, clientid: string): Promise<string> =>
  (await s.waitFor(e => e.type === 'client.disconnected' && e.clientid === clientid, 8000)).data.reason

test('every event type of a node reaches an EventSource, with the disconnect reasons', { timeout: 120000 }, async (t) => {
  const n = await startTestNode(t, { MQTT_SLOW_CONSUMER_BYTES: '65536', MQTT_SLOW_CONSUMER_SECONDS: '1' }, { node: { alarmCheckMs: 50 } })
  const s = await listen(t, n.base)

  const c1 = await n.client({ clientId: 'ev-1', username: 'user-1' })
  const connected = await s.waitFor(e => e.type === 'client.connected' && e.clientid === 'ev-1')
  assert.deepEqual([connected.node, connected.username, connected.data.proto_ver, connected.data.ipaddress], [n.nodeName, 'user-1', 4, '127.0.0.1'])
  // a position: the time, then the newest number of each origin (this node's run)
  assert.match(connected.id, /^[0-9a-z]+\.[0-9a-f]+:[0-9a-z]+$/)
  await c1.subscribeAsync('ev/a', { qos: 1 })
  assert.deepEqual((await s.waitFor(e => e.type === 'session.subscribed' && e.clientid === 'ev-1')).data, { topic: 'ev/a', qos: 1 })
  await c1.unsubscribeAsync('ev/a')
  assert.deepEqual((await s.waitFor(e => e.type === 'session.unsubscribed' && e.clientid === 'ev-1')).data, { topic: 'ev/a' })
  await c1.endAsync()
  assert.equal(await reasonOf(s, 'ev-1'), 'normal')

  await n.client({ clientId: 'ev-kick' })
  assert.equal((await n.api('DELETE', '/connections/ev-kick')).status, 200)
  assert.equal(await reasonOf(s, 'ev-kick'), 'kicked')

  await n.client({ clientId: 'ev-ban' })
  assert.equal((await n.api('POST', '/banned', { body: { who: 'ev-ban', as: 'client_id', reason: 'test' } })).status, 200)
  assert.deepEqual((await s.waitFor(e => e.type === 'banned.created')).data.who, 'ev-ban')
  assert.equal(await reasonOf(s, 'ev-ban'), 'banned')
  assert.equal((await n.api('DELETE', '/banned/ev-ban?as=client_id')).status, 200)
  assert.deepEqual((await s.waitFor(e => e.type === 'banned.deleted')).data, { as: 'client_id', who: 'ev-ban' })

  await n.client({ clientId: 'ev-twice' })
  await n.client({ clientId: 'ev-twice' })
  assert.equal(await reasonOf(s, 'ev-twice'), 'taken_over')

  // keepalive 1 s and then silence: closed after 1.5 keepalives [MQTT-3.1.2-24]
  const quiet = await rawConnect(n, 'ev-quiet', 1)
  t.after(() => { quiet.destroy() })
  assert.equal(await reasonOf(s, 'ev-quiet'), 'keepalive_timeout')

  const bad = await rawConnect(n, 'ev-bad', 60)
  bad.on('error', () => {})
  bad.write(Buffer.from([0x00, 0x00])) // packet type 0 is reserved [MQTT-2.2.1]
  assert.equal(await reasonOf(s, 'ev-bad'), 'protocol_error')

  // a subscriber that never reads: the broker's buffer for it grows past 64 KB for a second
  const slow = await rawConnect(n, 'ev-slow', 60)
  slow.on('error', () => {})
  slow.write(Buffer.from([0x82, 9, 0, 1, 0, 4, ...Buffer.from('ev/s'), 0]))
  await sleep(200)
  slow.pause()
  const pub = await n.client({ clientId: 'ev-pub' })
  for (let i = 0; i < 96; i++) { pub.publish('ev/s', Buffer.alloc(64 * 1024, 0x61), { qos: 0 }); if (i % 8 === 7) await sleep(5) }
  assert.equal(await reasonOf(s, 'ev-slow'), 'slow_consumer')
  slow.destroy()

  await pub.publishAsync('nobody/listens', 'x', { qos: 0 })
  const dropped = await s.waitFor(e => e.type === 'message.dropped' && e.data.counter === 'messages/dropped', 4000)
  assert.ok(dropped.data.count >= 1)

  assert.equal((await n.api('POST', '/alarms/deactivated', { body: { name: 'default_admin_password' } })).status, 200)
  assert.equal((await s.waitFor(e => e.type === 'alarm.deactivated')).data.name, 'default_admin_password')
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'sysmon.memory_high_watermark', value: '0.0001' } })).status, 200)
  assert.deepEqual((await s.waitFor(e => e.type === 'config.changed')).data, { key: 'sysmon.memory_high_watermark', app: 'emqx', value: '0.0001' })
  const raised = await s.waitFor(e => e.type === 'alarm.activated' && e.data.name === 'high_memory')
  assert.equal(raised.data.severity, 'warning')

  // every event had its own id, in order
  const ids = s.got.map(e => [...(parsePosition(e.id)?.seen.values() ?? [])][0] ?? NaN)
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b))
  assert.equal(new Set(ids).size, ids.length)
})

test('filters: type (repeatable, prefixes), clientid, username; bad filters are a 400', async (t) => {
  const n = await startTestNode(t)
  const clientOnly = await listen(t, n.base, '?type=client.&clientid=f-1')
  const two = await listen(t, n.base, '?type=session.subscribed&type=banned.*')
  const byUser = await listen(t, n.base, '?username=the-user')
  const all = await listen(t, n.base)
  const f1 = await n.client({ clientId: 'f-1', username: 'the-user' })
  await f1.subscribeAsync('f/1')
  const f2 = await n.client({ clientId: 'f-2' })
  await f2.subscribeAsync('f/2')
  await n.api('POST', '/banned', { body: { who: 'nobody', as: 'username' } })
  await f1.endAsync()
  await f2.endAsync()
  await all.waitFor(e => e.type === 'client.disconnected' && e.clientid === 'f-2')
  await all.waitFor(e => e.type === 'client.disconnected' && e.clientid === 'f-1')
  await sleep(100)
  assert.deepEqual(clientOnly.got.map(e => [e.type, e.clientid]), [['client.connected', 'f-1'], ['client.disconnected', 'f-1']])
  assert.deepEqual(two.got.map(e => [e.type, e.clientid ?? null]), [['session.subscribed', 'f-1'], ['session.subscribed', 'f-2'], ['banned.created', null]])
  assert.deepEqual(byUser.got.map(e => e.type), ['client.connected', 'session.subscribed', 'client.disconnected'])

  for (const q of ['?type=client', '?type=nothing.', '?type=client.connected&clientid=', '?since=1']) {
    const r = await n.api('GET', `/events${q}`)
    assert.equal(r.status, 400, q)
    assert.equal(r.body.code, 108, q)
  }
  assert.equal((await n.api('GET', '/events', { auth: null })).status, 401)
})

test('an EventSource cut off resumes with Last-Event-ID: nothing missed, nothing twice; an unknown id is told of a gap', { timeout: 60000 }, async (t) => {
  const n = await startTestNode(t)
  // the resuming reader reaches the API through a proxy the test cuts; the reference reader does not
  const proxy = new CuttableProxy({ host: '127.0.0.1', port: n.node.ports.api })
  await proxy.open()
  t.after(() => proxy.cut())
  const reference = await listen(t, n.base, '?type=session.')
  const resuming = await listen(t, `http://127.0.0.1:${proxy.port}/api/v3`, '?type=session.')
  const c = await n.client({ clientId: 'r-1' })
  for (let i = 0; i < 10; i++) await c.subscribeAsync(`r/${i}`)
  await resuming.waitFor(e => e.data.topic === 'r/9')
  await proxy.cut()
  // while it is away (it retries every 2 s)
  for (let i = 10; i < 25; i++) await c.subscribeAsync(`r/${i}`)
  await proxy.open()
  for (let i = 25; i < 30; i++) await c.subscribeAsync(`r/${i}`)
  await reference.waitFor(e => e.data.topic === 'r/29')
  await resuming.waitFor(e => e.data.topic === 'r/29', 15000)
  const topics = (s: { got: Ev[] }): string[] => s.got.map(e => e.data.topic)
  assert.deepEqual(topics(reference), Array.from({ length: 30 }, (_, i) => `r/${i}`))
  assert.deepEqual(topics(resuming), topics(reference))
  assert.deepEqual(resuming.got.map(e => e.id), reference.got.map(e => e.id))
  assert.equal(resuming.gaps, 0)

  // an id this node never gave: told of a gap, then gets what is kept
  const res = await fetch(`${n.base}/events?type=session.`, { headers: { authorization: AUTH, 'last-event-id': 'ffff-12' } })
  const reader = res.body!.getReader()
  let text = ''
  while (!text.includes('r/29')) text += Buffer.from((await reader.read()).value ?? []).toString()
  await reader.cancel()
  assert.match(text, /^retry: 2000\n\nevent: gap\n/)
  assert.equal((text.match(/"type":"session.subscribed"/g) ?? []).length, 30)
})

test('a reader that does not read is cut off; the broker and other readers go on', { timeout: 60000 }, async (t) => {
  const n = await startTestNode(t)
  const other = await listen(t, n.base, '?type=session.subscribed')
  // a raw HTTP request whose socket is never read
  const sock = net.connect(n.node.ports.api, '127.0.0.1')
  await new Promise<void>(resolve => sock.once('connect', () => resolve()))
  sock.write(`GET /api/v3/events HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\n\r\n`)
  await sleep(200)
  sock.pause()
  let received = 0
  const c = await n.client({ clientId: 's-1' })
  // about 12 MB of events: long topics, one subscribe each
  const topic = (i: number): string => `s/${i}/${'x'.repeat(60000)}`
  const started = Date.now()
  for (let i = 0; i < 200; i++) await c.subscribeAsync(topic(i))
  const took = Date.now() - started
  await other.waitFor(e => e.data.topic === topic(199))
  sock.on('data', (d) => { received += d.length })
  const ended = new Promise<void>(resolve => { sock.once('close', () => resolve()); sock.once('end', () => resolve()) })
  sock.resume()
  await ended
  // the stream never ends by itself: it ended, before half of it (what kernel buffers held) was read
  assert.ok(received < 100 * 60000, `the cut-off reader got ${received} bytes`)
  assert.equal(other.got.length, 200)
  assert.ok(took < 30000)
})
