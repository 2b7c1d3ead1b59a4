// A client may send packets right after CONNECT without waiting for CONNACK (MQTT 3.1.1 section 3.1.4):
// 200 of them in the same write as the CONNECT keep the connection open and all arrive (aedes' own
// bound, 42 packets, disconnected them; guard.ts bounds what is held before CONNACK by bytes instead).
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import net from 'node:net'
import { once } from 'node:events'
import { connect, start } from './helpers.js'
import type { Broker } from '../../src/broker/broker.js'
import { connectPacket, publishPacket } from '../support/frames.js'
import { until } from '../support/wait.js'

interface MqttPacket { parser: () => NodeJS.EventEmitter & { parse: (b: Buffer) => void } }
const mqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as MqttPacket

/** a PUBLISH frame: QoS 0, or QoS 1 with packet id `id` */
const publish = (topic: string, payload: Buffer, id?: number): Buffer => id === undefined ? publishPacket(0x30, topic, null, payload) : publishPacket(0x32, topic, id, payload)

/** Sends CONNECT and `packets` in one write; collects what the broker answers and whether it closed. */
async function pipelined (t: TestContext, b: Broker, packets: Buffer[]): Promise<{ received: Array<{ cmd: string, messageId?: number }>, closed: () => boolean, socket: net.Socket }> {
  const socket = net.connect(b.ports.mqtt, '127.0.0.1')
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  const received: Array<{ cmd: string, messageId?: number }> = []
  const parser = mqttPacket.parser()
  parser.on('packet', (p: { cmd: string, messageId?: number }) => received.push(p))
  socket.on('data', (d: Buffer) => { parser.parse(d) })
  let closed = false
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  socket.write(Buffer.concat([connectPacket('pipeliner', true), ...packets]))
  return { received, closed: () => closed, socket }
}

test('a client that sends 200 packets before CONNACK stays connected and every one is handled', async (t) => {
  const b = await start(t)
  const sub = await connect(t, b, { clientId: 'pipe-sub' })
  const got: string[] = []
  sub.on('message', (_topic, payload) => got.push(payload.toString()))
  await sub.subscribeAsync('pipe/#', { qos: 1 })
  const ids = Array.from({ length: 200 }, (_, i) => i + 1)
  const c = await pipelined(t, b, ids.map(id => publish('pipe/x', Buffer.from(String(id)), id)))
  await until(() => c.received.filter(p => p.cmd === 'puback').length === 200 || c.closed(), '200 PUBACKs')
  assert.equal(c.closed(), false, 'still connected')
  assert.equal(c.received[0]?.cmd, 'connack')
  assert.deepEqual(c.received.slice(1).map(p => p.messageId), ids)
  await until(() => got.length === 200, '200 messages delivered')
  assert.deepEqual(got, ids.map(String))
})

test('more than the bound sent before CONNACK closes the connection', async (t) => {
  const b = await start(t, { heldBeforeConnack: 4096 })
  const c = await pipelined(t, b, Array.from({ length: 100 }, () => publish('pipe/x', Buffer.alloc(100))))
  await until(() => c.closed(), 'the connection closed')
  assert.equal(c.received.some(p => p.cmd === 'connack'), false)
})

test('as much as the bound before CONNACK is held and handled', async (t) => {
  const b = await start(t, { heldBeforeConnack: 4096 })
  const c = await pipelined(t, b, Array.from({ length: 30 }, (_, i) => publish('pipe/x', Buffer.alloc(100), i + 1)))
  await until(() => c.received.length === 31 || c.closed(), 'CONNACK and 30 PUBACKs')
  assert.equal(c.closed(), false)
})
