// Hostile MQTT clients against a real node (startTestNode: the real hooks and settings), driven
// byte by byte on raw sockets so every malformed packet is exactly what is on the wire.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { MqttClient } from 'mqtt'
import { startTestNode, type TestNode } from '../helpers.js'
import { bytes, connectFrame, publishPacket, str, varint } from '../support/frames.js'
import { eventually, sleep } from '../support/wait.js'

class Raw {
  buf = Buffer.alloc(0)
  closed: Promise<number>
  private constructor (readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]) })
    sock.on('error', () => {})
    this.closed = new Promise(resolve => sock.once('close', () => resolve(Date.now())))
  }

  static async open (port: number): Promise<Raw> {
    const sock = net.connect(port, '127.0.0.1')
    await new Promise(resolve => sock.once('connect', resolve))
    return new Raw(sock)
  }

  send (b: Buffer): void { this.sock.write(b) }

  async read (n: number): Promise<Buffer> {
    await eventually(() => this.buf.length >= n, 2000)
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  async connect (id: string, flags = 0x02): Promise<void> {
    this.send(connectFrame(flags, str(id)))
    assert.deepEqual([...await this.read(4)], [0x20, 2, 0, 0])
  }

  /** resolves with how long after `since` the server closed the socket; fails after `withinMs` */
  async closedWithin (withinMs: number, since = Date.now()): Promise<number> {
    const at = await Promise.race([this.closed, new Promise<number>(resolve => setTimeout(() => resolve(-1), withinMs))])
    if (at < 0) {
      this.sock.destroy()
      assert.fail(`socket still open after ${withinMs} ms`)
    }
    return at - since
  }
}

function shutdownCount (n: TestNode, reason: string): number {
  return n.node.broker.listeners().find(l => l.protocol === 'mqtt:tcp')?.shutdownCount[reason] ?? 0
}

function collect (c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (topic) => { got.push(topic) })
  return got
}

test('1. max_packet_size: a ~200 MB frame header is refused at once, before and after CONNECT, without buffering it', async (t) => {
  const n = await startTestNode(t)
  const rss0 = process.memoryUsage.rss()
  const filler = Buffer.alloc(4096, 0x61)

  const before = await Raw.open(n.node.ports.mqtt)
  let since = Date.now()
  before.send(bytes(0x10, ...varint(200_000_000), filler))
  assert.ok(await before.closedWithin(1000, since) < 1000)
  assert.equal(before.buf.length, 0, 'no CONNACK')

  const after = await Raw.open(n.node.ports.mqtt)
  await after.connect('big-1')
  since = Date.now()
  after.send(bytes(0x30, ...varint(200_000_000), filler))
  assert.ok(await after.closedWithin(1000, since) < 1000)

  // hot-configurable: 1 KB now, a 2 KB PUBLISH closes the connection
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.max_packet_size', value: '1KB' } })).status, 200)
  const small = await Raw.open(n.node.ports.mqtt)
  await small.connect('big-2')
  small.send(publishPacket(0x30, 't', null, 'y'.repeat(2048)))
  await small.closedWithin(1000)
  assert.ok(process.memoryUsage.rss() - rss0 < 50 * 1024 * 1024, 'RSS did not grow with the declared sizes')
})

test('2. connect timeout: a silent socket and a slowloris CONNECT are closed after MQTT_CONNECT_TIMEOUT', async (t) => {
  const n = await startTestNode(t, { MQTT_CONNECT_TIMEOUT: '1' })
  const silent = await Raw.open(n.node.ports.mqtt)
  const took = await silent.closedWithin(3000)
  assert.ok(took >= 900, `closed after ${took} ms`)

  const loris = await Raw.open(n.node.ports.mqtt)
  const frame = connectFrame(0x02, str('slowloris-client'))
  let i = 0
  const drip = setInterval(() => { if (i < frame.length && !loris.sock.destroyed) loris.send(frame.subarray(i, ++i)) }, 200)
  t.after(() => clearInterval(drip))
  const lorisTook = await loris.closedWithin(3000)
  clearInterval(drip)
  assert.ok(i < frame.length, 'closed before the CONNECT was complete')
  assert.ok(lorisTook < 2500, `closed after ${lorisTook} ms`)
  assert.equal(loris.buf.length, 0)
  await eventually(() => shutdownCount(n, 'connect_timeout') === 2)
})

test('3a. limits: max_clientid_len refuses with CONNACK 2; max_topic_levels drops the PUBLISH; max_conns refuses the socket', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.max_clientid_len', value: '8' } })).status, 200)
  const long = await Raw.open(n.node.ports.mqtt)
  long.send(connectFrame(0x02, str('123456789')))
  assert.deepEqual([...await long.read(4)], [0x20, 2, 0, 2])
  await long.closedWithin(1000)

  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.max_topic_levels', value: '3' } })).status, 200)
  const sub = await n.client({ clientId: 'lv-sub' })
  const got = collect(sub)
  await sub.subscribeAsync('#', { qos: 0 })
  const pub = await n.client({ clientId: 'lv-pub' })
  await pub.publishAsync('a/b/c/d', 'deep', { qos: 1 })
  await pub.publishAsync('a/b/c', 'ok', { qos: 1 })
  await eventually(() => got.includes('a/b/c'))
  assert.deepEqual(got, ['a/b/c'])

  // 2 open (sub, pub): a limit of 2 refuses the third socket
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'listener.tcp.external.max_connections', value: '2' } })).status, 200)
  const third = await Raw.open(n.node.ports.mqtt)
  third.send(connectFrame(0x02, str('third')))
  await third.closedWithin(1000)
  assert.equal(third.buf.length, 0, 'no CONNACK')
})

test('3b. max_mqueue: an offline persistent session keeps the oldest MQTT_MAX_MQUEUE messages, newer are dropped and counted', async (t) => {
  const n = await startTestNode(t, { MQTT_MAX_MQUEUE: '5' })
  const sub = await n.client({ clientId: 'mq-sub', clean: false })
  await sub.subscribeAsync('q/#', { qos: 1 })
  await sub.endAsync()
  await eventually(() => n.node.broker.registry.session('mq-sub')?.connected === false)
  const pub = await n.client({ clientId: 'mq-pub' })
  for (let i = 0; i < 8; i++) await pub.publishAsync(`q/${i}`, String(i), { qos: 1 })
  await eventually(() => n.node.broker.registry.session('mq-sub')?.mqueueDropped === 3)
  const s = n.node.broker.registry.session('mq-sub')
  assert.equal(s?.mqueueLen, 5)
  assert.equal(s?.maxMqueue, 5)
  assert.equal(n.node.broker.metrics.all()['messages/dropped'], 3)
  const api = await n.api('GET', '/sessions/mq-sub')
  assert.equal(api.body.data?.[0]?.mqueue_dropped ?? api.body[0]?.mqueue_dropped, 3)

  const back = await n.client({ clientId: 'mq-sub', clean: false })
  const got = collect(back)
  await eventually(() => got.length >= 5)
  await sleep(200)
  assert.deepEqual(got, ['q/0', 'q/1', 'q/2', 'q/3', 'q/4'])
})

test('4. protocol rules: each violation closes the connection; nothing is routed or retained', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'rules-sub' })
  const got = collect(sub)
  await sub.subscribeAsync('#', { qos: 1 })

  const refused = async (what: string, packet: Buffer, connack: number[] = []): Promise<void> => {
    const c = await Raw.open(n.node.ports.mqtt)
    c.send(packet)
    await c.closedWithin(2000).catch(() => assert.fail(`${what}: not closed`))
    assert.deepEqual([...c.buf], connack, what)
  }
  const afterConnect = async (what: string, packet: Buffer): Promise<void> => {
    const c = await Raw.open(n.node.ports.mqtt)
    await c.connect(`r-${what.replace(/\W/g, '')}`.slice(0, 20))
    c.send(packet)
    await c.closedWithin(2000).catch(() => assert.fail(`${what}: not closed`))
    assert.equal(c.buf.length, 0, `${what}: no PUBACK/PUBREC`)
  }

  await refused('empty client id, clean session 0 [MQTT-3.1.3-8]', connectFrame(0x00, str('')), [0x20, 2, 0, 2])
  await refused('U+0000 in client id [MQTT-1.5.3-2]', connectFrame(0x02, str('a\u0000b')))
  await refused('invalid UTF-8 in client id [MQTT-1.5.3-1]', connectFrame(0x02, str(Buffer.from([0x61, 0xff, 0x62]))))
  await refused('surrogate in client id [MQTT-1.5.3-1]', connectFrame(0x02, str(Buffer.from([0x61, 0xed, 0xa0, 0x80]))))
  await refused('password flag without user name [MQTT-3.1.2-22]', connectFrame(0x42, str('pw-only'), str('secret')))
  // retain flag set on each bad PUBLISH: nothing may reach the retained store
  await afterConnect('invalid UTF-8 in topic', publishPacket(0x31, Buffer.from([0x74, 0xc3, 0x28]), null))
  await afterConnect('U+0000 in topic', publishPacket(0x31, 'a\u0000b', null))
  await afterConnect('QoS 1 packet id 0 [MQTT-2.3.1-1]', publishPacket(0x33, 'ok/topic', 0))
  await afterConnect('QoS 2 packet id 0 [MQTT-2.3.1-1]', publishPacket(0x35, 'ok/topic', 0))
  await afterConnect('wildcard # in topic [MQTT-3.3.2-2]', publishPacket(0x33, 'a/#', 1))
  await afterConnect('wildcard + in topic [MQTT-3.3.2-2]', publishPacket(0x31, 'a/+/b', null))
  await afterConnect('QoS 3 [MQTT-3.3.1-4]', publishPacket(0x37, 'ok/topic', 1))
  await afterConnect('U+0000 in topic filter', bytes(0x82, ...varint(2 + 2 + 3 + 1), 0, 1, str('a\u0000b'), 0))

  // a legal message still goes through, and is the only one
  const ok = await n.client({ clientId: 'rules-pub' })
  await ok.publishAsync('fine', 'yes', { qos: 1 })
  await eventually(() => got.includes('fine'))
  assert.deepEqual(got, ['fine'])
  assert.equal(n.node.broker.metrics.all()['messages/retained'] ?? 0, 0)
  const stats = await n.api('GET', '/stats')
  assert.equal(JSON.stringify(stats.body).match(/"retained\/count":(\d+)/)?.[1], '0')
})

test('5. slow subscriber: does not slow the others, drops its QoS 0 above the limit and is closed as slow_consumer', { timeout: 60000 }, async (t) => {
  const n = await startTestNode(t, { MQTT_SLOW_CONSUMER_BYTES: String(4 * 1024 * 1024), MQTT_SLOW_CONSUMER_SECONDS: '1' })
  const slow = await Raw.open(n.node.ports.mqtt)
  await slow.connect('slow-sub')
  slow.send(bytes(0x82, 11, 0, 1, str('load/#'), 0))
  await slow.read(5)
  slow.sock.pause() // never reads again: the kernel buffers fill, then the broker's

  const fast = await n.client({ clientId: 'fast-sub' })
  let received = 0
  fast.on('message', () => { received++ })
  await fast.subscribeAsync('load/#', { qos: 0 })
  const pub = await n.client({ clientId: 'load-pub' })
  const rss0 = process.memoryUsage.rss()
  const payload = Buffer.alloc(64 * 1024, 0x5a)
  const total = 320 // 20 MB
  const started = Date.now()
  for (let i = 0; i < total; i++) {
    pub.publish('load/x', payload, { qos: 0 })
    if (i % 16 === 15) await sleep(1)
  }
  await eventually(() => received === total, 15000)
  const took = Date.now() - started
  await eventually(() => shutdownCount(n, 'slow_consumer') === 1, 10000)
  const closedIn = Date.now() - started
  // a paused socket sees the server's FIN only after the bytes before it: read them now
  slow.sock.resume()
  await slow.closedWithin(5000)
  assert.ok(n.node.broker.metrics.all()['messages/dropped']! > 0, 'QoS 0 above the limit was dropped')
  assert.ok(process.memoryUsage.rss() - rss0 < 150 * 1024 * 1024, 'memory stays bounded')
  t.diagnostic(`fast subscriber got ${total} × 64 KB in ${took} ms; slow one closed after ${closedIn} ms`)
})

test('7. redelivery: QoS 1 comes again with DUP after a cut connection; QoS 2 is delivered exactly once', async (t) => {
  const n = await startTestNode(t)
  const pub = await n.client({ clientId: 'rd-pub' })

  const sub = await Raw.open(n.node.ports.mqtt)
  sub.send(connectFrame(0x00, str('rd-sub')))
  assert.deepEqual([...await sub.read(4)], [0x20, 2, 0, 0])
  sub.send(bytes(0x82, 9, 0, 1, str('rd/#'), 2))
  assert.deepEqual([...await sub.read(5)], [0x90, 3, 0, 1, 2])
  await pub.publishAsync('rd/1', 'one', { qos: 1 })
  const first = await sub.read(2 + 2 + 4 + 2 + 3)
  assert.equal(first[0], 0x32) // QoS 1, no DUP
  sub.sock.destroy() // cut before PUBACK

  const again = await Raw.open(n.node.ports.mqtt)
  again.send(connectFrame(0x00, str('rd-sub')))
  assert.deepEqual([...await again.read(4)], [0x20, 2, 1, 0]) // session present
  const dup = await again.read(13)
  assert.equal(dup[0], 0x3a, 'QoS 1 redelivered with DUP [MQTT-4.4.0-1]')
  assert.equal(dup.subarray(10).toString(), 'one')
  again.send(bytes(0x40, 2, dup[8]!, dup[9]!))

  await pub.publishAsync('rd/2', 'two', { qos: 2 })
  const q2 = await again.read(13)
  assert.equal(q2[0]! & 0xf6, 0x34)
  again.send(bytes(0x50, 2, q2[8]!, q2[9]!)) // PUBREC
  assert.deepEqual([...await again.read(4)], [0x62, 2, q2[8]!, q2[9]!]) // PUBREL
  again.sock.destroy() // cut before PUBCOMP

  const third = await Raw.open(n.node.ports.mqtt)
  third.send(connectFrame(0x00, str('rd-sub')))
  assert.deepEqual([...await third.read(4)], [0x20, 2, 1, 0])
  // [MQTT-4.4.0-1]: only the PUBREL is sent again, never the message
  assert.deepEqual([...await third.read(4)], [0x62, 2, q2[8]!, q2[9]!])
  third.send(bytes(0x70, 2, q2[8]!, q2[9]!))
  await sleep(300)
  assert.equal(third.buf.length, 0, 'the QoS 2 message is not delivered twice')
  third.sock.destroy()
})

test('8. names of Object.prototype members are ordinary client ids and topic filters: served, taken over, and the node keeps running', async (t) => {
  // aedes keys its clients and subscriptions by these names (GHSA-52qw-whmv-87c5, fixed in aedes 1.2):
  // a plain-object lookup finds the inherited member, and one CONNECT as `constructor` ended the process
  const n = await startTestNode(t)
  for (const id of ['constructor', '__proto__', 'hasOwnProperty', 'toString']) {
    const first = await n.client({ clientId: id, clean: false })
    const closed = new Promise<void>(resolve => first.once('close', () => resolve()))
    const got = collect(first)
    await first.subscribeAsync(id, { qos: 1 })
    await first.publishAsync(id, 'x', { qos: 1 })
    await eventually(() => got.length === 1, 2000)
    const second = await n.client({ clientId: id, clean: false }) // takes the session over [MQTT-3.1.4-2]
    await closed
    const again = collect(second)
    await second.publishAsync(id, 'y', { qos: 1 })
    await eventually(() => again.length === 1, 2000)
    await second.endAsync()
  }
  const other = await n.client({ clientId: 'after-them' })
  await other.endAsync()
})

test('9. a clean session forgets the QoS 2 packet ids its previous connection left unreleased [MQTT-3.1.2-6]', async (t) => {
  // else the new connection's first QoS 2 message with a reused id is acknowledged as a duplicate and
  // dropped (GHSA-p8r9-qf8w-p73r, fixed in aedes 1.2 by its cleanIncoming call)
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'q2-sub' })
  const got: string[] = []
  sub.on('message', (_t, payload) => { got.push(payload.toString()) })
  await sub.subscribeAsync('q2/#', { qos: 2 })

  const first = await Raw.open(n.node.ports.mqtt)
  await first.connect('q2-pub')
  first.send(publishPacket(0x34, 'q2/x', 1, 'first'))
  assert.deepEqual([...await first.read(4)], [0x50, 2, 0, 1]) // PUBREC; never released
  first.sock.destroy()
  await eventually(() => got.length === 1, 2000)

  const second = await Raw.open(n.node.ports.mqtt)
  await second.connect('q2-pub') // clean session (flags 0x02)
  second.send(publishPacket(0x34, 'q2/x', 1, 'second'))
  assert.deepEqual([...await second.read(4)], [0x50, 2, 0, 1])
  second.send(bytes(0x62, 2, 0, 1)) // PUBREL
  assert.deepEqual([...await second.read(4)], [0x70, 2, 0, 1]) // PUBCOMP
  await eventually(() => got.length === 2, 2000).catch(() => {})
  assert.deepEqual(got, ['first', 'second'])
  second.sock.destroy()
})
