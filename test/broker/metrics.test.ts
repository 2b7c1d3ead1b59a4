import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { connect, start } from './helpers.js'
import { until } from '../support/wait.js'

/** A hand-driven MQTT 3.1.1 client on a raw socket: exact control over every byte. */
class RawClient {
  private buf = Buffer.alloc(0)
  private constructor (readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]) })
  }

  static async open (port: number): Promise<RawClient> {
    const sock = net.connect(port, '127.0.0.1')
    await new Promise(resolve => sock.once('connect', resolve))
    return new RawClient(sock)
  }

  send (...bytes: Array<number | string>): void {
    this.sock.write(Buffer.concat(bytes.map(b => typeof b === 'string' ? Buffer.from(b) : Buffer.from([b]))))
  }

  /** Waits for exactly `n` more bytes and returns them. */
  async read (n: number): Promise<Buffer> {
    await until(() => this.buf.length >= n, `${n} bytes`)
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }
}

test('one CONNECT, SUBSCRIBE, QoS 1 PUBLISH round trip, PINGREQ and DISCONNECT move every counter by the exact amount, bytes as on the wire', async (t) => {
  const b = await start(t)
  const c = await RawClient.open(b.ports.mqtt)

  c.send(0x10, 14, 0, 4, 'MQTT', 4, 0x02, 0, 0, 0, 2, 'm1') // CONNECT clean, keepalive 0
  assert.deepEqual([...await c.read(4)], [0x20, 2, 0, 0]) // CONNACK accepted
  c.send(0x82, 6, 0, 1, 0, 1, 't', 1) // SUBSCRIBE id 1 't' QoS 1
  assert.deepEqual([...await c.read(5)], [0x90, 3, 0, 1, 1]) // SUBACK granted 1
  c.send(0x32, 7, 0, 1, 't', 0, 2, 'hi') // PUBLISH QoS 1 id 2
  assert.deepEqual([...await c.read(4)], [0x40, 2, 0, 2]) // PUBACK 2
  const out = await c.read(9) // our message back: PUBLISH QoS 1 't' <id> 'hi'
  assert.equal(out[0], 0x32)
  c.send(0x40, 2, out[5]!, out[6]!) // PUBACK its id
  c.send(0xc0, 0) // PINGREQ
  assert.deepEqual([...await c.read(2)], [0xd0, 0]) // PINGRESP
  c.send(0xe0, 0) // DISCONNECT
  await new Promise(resolve => c.sock.once('close', resolve))

  const m = b.metrics.all()
  assert.equal(Object.keys(m).length, 43)
  const expected: Record<string, number> = {
    'bytes/received': 16 + 8 + 9 + 4 + 2 + 2,
    'bytes/sent': 4 + 5 + 4 + 9 + 2,
    'packets/received': 6,
    'packets/sent': 5,
    'packets/connect': 1,
    'packets/connack': 1,
    'packets/subscribe': 1,
    'packets/suback': 1,
    'packets/publish/received': 1,
    'packets/publish/sent': 1,
    'packets/puback/received': 1,
    'packets/puback/sent': 1,
    'packets/puback/missed': 0,
    'packets/pingreq': 1,
    'packets/pingresp': 1,
    'packets/disconnect/received': 1,
    'packets/disconnect/sent': 0,
    'messages/received': 1,
    'messages/sent': 1,
    'messages/qos1/received': 1,
    'messages/qos1/sent': 1,
    'messages/qos0/received': 0,
    'messages/dropped': 0
  }
  for (const [name, value] of Object.entries(expected)) assert.equal(m[name], value, name)
  assert.equal(m['bytes/received'], c.sock.bytesWritten)
  assert.equal(m['bytes/sent'], c.sock.bytesRead)
  assert.equal(b.listeners()[0]?.shutdownCount['closed'], 1)
})

test('a PUBACK for a packet id never sent is counted as puback/missed', async (t) => {
  const b = await start(t)
  const c = await RawClient.open(b.ports.mqtt)
  c.send(0x10, 14, 0, 4, 'MQTT', 4, 0x02, 0, 0, 0, 2, 'm2')
  await c.read(4)
  c.send(0x40, 2, 0, 99)
  c.send(0xc0, 0)
  await c.read(2)
  assert.equal(b.metrics.all()['packets/puback/missed'], 1)
  c.sock.destroy()
})

test('per-connection counters match the bytes and packets of that socket', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 'cnt' })
  await c.subscribeAsync('z', { qos: 0 })
  // the broker counts a packet when it writes it: compare once the client has read it
  const got = new Promise(resolve => c.once('message', resolve))
  await c.publishAsync('z', 'payload', { qos: 0 })
  await got
  await until(() => b.registry.connection('cnt')?.counters.sendMsg === 1, 'delivery')
  const counters = b.registry.connection('cnt')?.counters
  const sock = c.stream as net.Socket
  assert.deepEqual(counters, {
    recvPkt: 3, sendPkt: 3, recvOct: sock.bytesWritten, sendOct: sock.bytesRead, recvMsg: 1, sendMsg: 1
  })
})

test('a QoS 2 publish from one client to a QoS 2 subscriber counts the whole handshake on both sides', async (t) => {
  const b = await start(t)
  const sub = await connect(t, b, { clientId: 'sub2' })
  await sub.subscribeAsync('q2', { qos: 2 })
  const got = new Promise(resolve => sub.once('message', resolve))
  const pub = await connect(t, b, { clientId: 'pub2' })
  await pub.publishAsync('q2', 'x', { qos: 2 })
  await got
  await until(() => b.metrics.all()['packets/pubcomp/received'] === 1, 'PUBCOMP from the subscriber')
  const m = b.metrics.all()
  for (const name of ['pubrec/received', 'pubrec/sent', 'pubrel/received', 'pubrel/sent', 'pubcomp/received', 'pubcomp/sent']) {
    assert.equal(m[`packets/${name}`], 1, name)
  }
  assert.equal(m['messages/qos2/received'], 1)
  assert.equal(m['messages/qos2/sent'], 1)
  assert.equal(m['packets/pubrel/missed'], 0)
  assert.equal(m['packets/pubcomp/missed'], 0)
  assert.equal(b.registry.session('sub2')?.inflightLen, 0)
  assert.equal(b.registry.session('pub2')?.awaitingRelLen, 0)
})

test('messages/dropped counts a publish nobody subscribed to, not delivered ones nor $SYS announcements from aedes', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 'd1' })
  await c.subscribeAsync('seen', { qos: 0 })
  await c.publishAsync('nobody/here', 'x', { qos: 0 })
  await c.publishAsync('nobody/here', 'x', { qos: 1 })
  await c.publishAsync('seen', 'x', { qos: 1 })
  await until(() => b.metrics.all()['messages/sent'] === 1, 'the delivery')
  assert.equal(b.metrics.all()['messages/dropped'], 2)
})

test('messages/retained is a gauge of stored retained messages, and stats retained/max its high-water mark', async (t) => {
  const b = await start(t)
  await b.publish({ topic: 'r/1', payload: Buffer.from('a'), qos: 0, retain: true })
  await b.publish({ topic: 'r/2', payload: Buffer.from('b'), qos: 1, retain: true })
  await b.publish({ topic: 'r/2', payload: Buffer.from('c'), qos: 0, retain: true })
  assert.equal(b.metrics.all()['messages/retained'], 2)
  await b.publish({ topic: 'r/1', payload: Buffer.alloc(0), qos: 0, retain: true }) // [MQTT-3.3.1-10] clears
  assert.equal(b.metrics.all()['messages/retained'], 1)
  const s = b.metrics.stats()
  assert.equal(s['retained/count'], 1)
  assert.equal(s['retained/max'], 2)
})

test('stats keep count and high-water mark: 3 connections then 2 leave gives count 1, max 3', async (t) => {
  const b = await start(t)
  const cs = [await connect(t, b, { clientId: 'h1' }), await connect(t, b, { clientId: 'h2' }), await connect(t, b, { clientId: 'h3' })]
  await cs[0]?.subscribeAsync(['a', 'b'])
  await cs[1]?.subscribeAsync('a')
  await cs[0]?.endAsync()
  await cs[1]?.endAsync()
  await until(() => b.registry.connectionCount === 1, 'two to leave')
  const s = b.metrics.stats()
  assert.equal(Object.keys(s).length, 20)
  assert.deepEqual(
    [s['connections/count'], s['connections/max'], s['sessions/count'], s['sessions/max']],
    [1, 3, 1, 3]
  )
  assert.deepEqual(
    [s['subscriptions/count'], s['subscriptions/max'], s['routes/count'], s['routes/max'], s['topics/max']],
    [0, 3, 0, 2, 2]
  )
})

test('the octets are MQTT\'s: the same exchange counts the same over WebSocket as over TCP (EMQ X counts frame payloads), also once closed', async (t) => {
  const b = await start(t)
  const exchange = async (ws: boolean, clientId: string): Promise<{ open: object, closed: { received: number, sent: number } }> => {
    const before = b.metrics.all()
    const c = await connect(t, b, { clientId }, ws)
    await c.subscribeAsync('w', { qos: 1 })
    const got = new Promise(resolve => c.once('message', resolve))
    await c.publishAsync('w', 'x'.repeat(1000), { qos: 1 })
    await got
    await until(() => b.registry.connection(clientId)?.counters.recvPkt === 4, 'the PUBACK of the delivery') // CONNECT SUBSCRIBE PUBLISH PUBACK
    const { recvOct, sendOct } = b.registry.connection(clientId)?.counters ?? {}
    await c.endAsync()
    await until(() => b.registry.connection(clientId) === undefined, 'the close')
    const after = b.metrics.all()
    return {
      open: { recvOct, sendOct },
      closed: { received: (after['bytes/received'] ?? 0) - (before['bytes/received'] ?? 0), sent: (after['bytes/sent'] ?? 0) - (before['bytes/sent'] ?? 0) }
    }
  }
  const tcp = await exchange(false, 'tcp-oct')
  const ws = await exchange(true, 'ws--oct')
  assert.deepEqual(ws, tcp)
  // CONNECT + SUBSCRIBE + a PUBLISH of 1000 B + PUBACK, DISCONNECT; CONNACK, SUBACK, PUBACK, the PUBLISH back
  assert.ok(tcp.closed.received > 1000 + 2 && tcp.closed.sent > 1000 + 4 + 5 + 4, JSON.stringify(tcp))
})
