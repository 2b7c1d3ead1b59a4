// Write coalescing: the packets written to a TCP or WebSocket connection in one loop turn leave in
// one writev (one frame), complete and in order, and a stream destroyed while corked still sends
// what it holds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import net from 'node:net'
import { once } from 'node:events'
import WebSocket from 'ws'
import type { TestContext } from 'node:test'
import { ConnState } from '../../src/broker/conn.js'
import { installUpstream, tapConnection } from '../../src/broker/upstream.js'
import { Metrics } from '../../src/broker/metrics.js'
import { start } from './helpers.js'
import { until } from '../support/wait.js'
import { connectPacket, publishPacket, subscribePacket } from '../support/frames.js'

interface MqttPacket {
  parser: () => object
  writeToStream: (packet: object, stream: object) => boolean
}
// the copy aedes uses, which upstream.ts taps
const mqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as MqttPacket
// as a broker's start does
await installUpstream()

/** Counts the writes (write or writev calls) the sockets in `which` hand to the kernel. */
function countWrites (t: TestContext, which: (s: net.Socket) => boolean): { writes: number } {
  const counter = { writes: 0 }
  const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>
  for (const name of ['_write', '_writev'] as const) {
    const orig = proto[name]
    proto[name] = function (this: net.Socket, ...a: unknown[]) {
      if (which(this)) counter.writes++
      return orig.apply(this, a)
    }
    t.after(() => { proto[name] = orig })
  }
  return counter
}

/** A socket pair over loopback: the server side is tapped as a broker connection would be. */
async function tappedPair (t: TestContext): Promise<{ server: net.Socket, client: net.Socket, received: () => Buffer }> {
  const srv = net.createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1')
  const [server] = await once(srv, 'connection') as [net.Socket]
  t.after(() => { client.destroy(); server.destroy(); srv.close() })
  let got = Buffer.alloc(0)
  client.on('data', (d: Buffer) => { got = Buffer.concat([got, d]) })
  const state = new ConnState('mqtt:tcp', { ip: '127.0.0.1', port: 0, peercert: 'nossl' }, 100, new Metrics())
  tapConnection({ _parser: mqttPacket.parser() }, server, state)
  return { server, client, received: () => got }
}

const publish = (i: number): object => ({ cmd: 'publish', topic: 't', payload: Buffer.from(String(i).padStart(4, '0')), qos: 0, retain: false, dup: false })
const PUBLISH_BYTES = 2 + 2 + 1 + 4 // fixed header, topic length, 't', 4-byte payload

test('the packets written in one loop turn leave in one write, complete and in order', async (t) => {
  const { server, received } = await tappedPair(t)
  const counter = countWrites(t, s => s === server)
  // each in its own immediate, as aedes delivers: mqtt-packet's own cork ends after each of them
  for (let i = 0; i < 100; i++) setImmediate(() => mqttPacket.writeToStream(publish(i), server))
  await until(() => received().length === 100 * PUBLISH_BYTES, 'the 100 packets')
  assert.equal(counter.writes, 1)
  for (let i = 0; i < 100; i++) assert.equal(received().subarray(i * PUBLISH_BYTES + 5, (i + 1) * PUBLISH_BYTES).toString(), String(i).padStart(4, '0'))
})

test('what a loop turn holds stays bounded: past 64 KB the socket is flushed early', async (t) => {
  const { server, received } = await tappedPair(t)
  const counter = countWrites(t, s => s === server)
  const big = (i: number): object => ({ cmd: 'publish', topic: 't', payload: Buffer.alloc(4096, i), qos: 0, retain: false, dup: false })
  let most = 0
  for (let i = 0; i < 40; i++) {
    setImmediate(() => {
      mqttPacket.writeToStream(big(i), server)
      most = Math.max(most, server.writableLength)
    })
  }
  const size = 1 + 2 + 2 + 1 + 4096 // remaining length 4099 takes two bytes
  await until(() => received().length === 40 * size, 'the 40 packets')
  assert.ok(most < 64 * 1024 + size, `${most} bytes held at most`)
  assert.ok(counter.writes >= 2 && counter.writes <= 10, `${counter.writes} writes`)
  for (let i = 0; i < 40; i++) assert.equal(received()[(i + 1) * size - 1], i)
})

test('a socket destroyed while its packets are held sends them first', async (t) => {
  const { server, client, received } = await tappedPair(t)
  mqttPacket.writeToStream({ cmd: 'connack', returnCode: 5, sessionPresent: false }, server)
  server.destroy() // as aedes does after a refused CONNACK, in the same turn
  await once(client, 'close')
  assert.deepEqual([...received()], [0x20, 2, 0, 5])
})

test('destroyed with an error, a socket drops what it held and closes', async (t) => {
  const { server, client } = await tappedPair(t)
  server.on('error', () => {})
  mqttPacket.writeToStream(publish(1), server)
  server.destroy(new Error('boom'))
  await once(client, 'close')
  assert.equal(server.destroyed, true)
})

test('a burst of publishes reaches a subscriber through the broker in a few writes, in order', async (t) => {
  const b = await start(t)
  const raw = async (id: string): Promise<{ sock: net.Socket, got: () => Buffer }> => {
    const sock = net.connect(b.ports.mqtt, '127.0.0.1')
    await once(sock, 'connect')
    t.after(() => sock.destroy())
    let buf = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]) })
    sock.write(connectPacket(id, true))
    await until(() => buf.length >= 4, `CONNACK for ${id}`)
    buf = buf.subarray(4)
    return { sock, got: () => buf }
  }
  const sub = await raw('sub')
  sub.sock.write(subscribePacket(1, ['t'], 0))
  await until(() => sub.got().length >= 5, 'SUBACK')
  const subackLength = 5
  const counter = countWrites(t, s => s.remotePort === sub.sock.localPort)
  const pub = await raw('pub')
  const n = 200
  pub.sock.write(Buffer.concat(Array.from({ length: n }, (_, i) => publishPacket(0x30, 't', null, String(i).padStart(4, '0')))))
  await until(() => sub.got().length === subackLength + n * PUBLISH_BYTES, `the ${n} messages`)
  const body = sub.got().subarray(subackLength)
  for (let i = 0; i < n; i++) assert.equal(body.subarray(i * PUBLISH_BYTES + 5, (i + 1) * PUBLISH_BYTES).toString(), String(i).padStart(4, '0'))
  // one write per delivery without coalescing; a few when the burst was read in a few chunks
  assert.ok(counter.writes <= 10, `${counter.writes} writes for ${n} deliveries`)
})

test('over WebSocket a CONNACK is one frame, and a burst of publishes reaches a subscriber in a few frames, in order', async (t) => {
  const b = await start(t)
  const ws = new WebSocket(`ws://127.0.0.1:${b.ports.ws}/mqtt`, 'mqtt')
  t.after(() => ws.terminate())
  await once(ws, 'open')
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(d))
  const got = (): Buffer => Buffer.concat(frames)
  ws.send(connectPacket('wss', true))
  await until(() => got().length >= 4, 'CONNACK')
  assert.deepEqual(frames, [Buffer.from([0x20, 2, 0, 0])]) // before: four frames of one byte
  ws.send(subscribePacket(1, ['t'], 0))
  await until(() => got().length >= 9, 'SUBACK')
  const before = frames.length
  const pub = net.connect(b.ports.mqtt, '127.0.0.1')
  t.after(() => pub.destroy())
  await once(pub, 'connect')
  const n = 200
  pub.write(connectPacket('wsp', true))
  await once(pub, 'data') // CONNACK
  pub.write(Buffer.concat(Array.from({ length: n }, (_, i) => publishPacket(0x30, 't', null, String(i).padStart(4, '0')))))
  await until(() => got().length === 9 + n * PUBLISH_BYTES, `the ${n} messages (${got().length - 9} bytes, ${frames.length - before} frames)`)
  const body = got().subarray(9)
  for (let i = 0; i < n; i++) assert.equal(body.subarray(i * PUBLISH_BYTES + 5, (i + 1) * PUBLISH_BYTES).toString(), String(i).padStart(4, '0'))
  const used = frames.length - before
  assert.ok(used <= 10, `${used} frames for ${n} deliveries`) // before: five per PUBLISH
})

test('over WebSocket a refused CONNACK arrives before the close', async (t) => {
  const b = await start(t, { hooks: { authenticate: async () => 5 } })
  const ws = new WebSocket(`ws://127.0.0.1:${b.ports.ws}/mqtt`, 'mqtt')
  t.after(() => ws.terminate())
  await once(ws, 'open')
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(d))
  ws.send(connectPacket('wsr', true))
  await once(ws, 'close')
  assert.deepEqual([...Buffer.concat(frames)], [0x20, 2, 0, 5])
})
