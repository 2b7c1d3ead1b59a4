// Server DISCONNECT with a reason code (issue 16) where the broker itself closes a connection: a
// slow consumer (0x97 Quota exceeded, read after its backlog) and shutdown (0x8B Server shutting
// down). MQTT 3.1.1 clients are closed without one, as before. Real sockets: mqtt.js, and a raw v5
// socket that stops reading.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import type { IDisconnectPacket, MqttClient } from 'mqtt'
import type { Aedes } from 'aedes'
import type { Broker } from '../../src/broker/broker.js'
import { connect, start } from './helpers.js'
import { eventually } from '../support/wait.js'

/** aedes' public events (the handle types it as unknown: the API layer must not reach it) */
const aedesOf = (b: Broker): Aedes => b.aedes as Aedes

function serverDisconnect (c: MqttClient): Promise<IDisconnectPacket | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('connection still open after 5 s')) }, 5000)
    c.once('disconnect', (p) => { clearTimeout(timer); resolve(p) })
    c.once('close', () => { setTimeout(() => { clearTimeout(timer); resolve(null) }, 50) })
  })
}

/** A v5 client on a bare socket: every packet it reads, parsed by mqtt-packet. */
async function rawV5 (port: number, clientId: string): Promise<{ sock: net.Socket, packets: Packet[], received: { bytes: number }, closed: Promise<void>, send: (p: object) => void }> {
  const sock = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  const parser = mqttPacket.parser({ protocolVersion: 5 })
  const packets: Packet[] = []
  const received = { bytes: 0 }
  parser.on('packet', (p) => { packets.push(p) })
  sock.on('data', (d) => { parser.parse(d) })
  sock.on('data', (d) => { received.bytes += d.length })
  const closed = new Promise<void>(resolve => { sock.once('close', () => { resolve() }) })
  const send = (p: object): void => { sock.write(mqttPacket.generate(p as Packet, { protocolVersion: 5 })) }
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0 })
  await eventually(() => packets.some(p => p.cmd === 'connack'))
  return { sock, packets, received, closed, send }
}

test('a slow MQTT 5 consumer is sent DISCONNECT 0x97 after what was buffered for it, then closed; a 3.1.1 one is just closed', { timeout: 60000 }, async (t) => {
  const b = await start(t, { slowConsumer: { bytes: 256 * 1024, seconds: 1 } })
  const slow = await rawV5(b.ports.mqtt, 'slow-v5')
  slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'load/#', qos: 1 }] })
  await eventually(() => slow.packets.some(p => p.cmd === 'suback'))
  const slow4 = await connect(t, b, { clientId: 'slow-v4' })
  await slow4.subscribeAsync('load/#', { qos: 1 })
  const stream4 = (slow4 as unknown as { stream: net.Socket }).stream
  slow.sock.pause() // reads nothing more: the kernel buffers fill, then the broker's
  stream4.pause()
  stream4.removeAllListeners('data')

  const gone: string[] = []
  aedesOf(b).on('clientDisconnect', (c) => { gone.push(c.id) })
  const payload = Buffer.alloc(64 * 1024, 0x5a)
  const sent = 240 // 15 MB, more than localhost's socket buffers take
  for (let i = 0; i < sent; i++) await b.publish({ topic: 'load/x', payload, qos: 1, retain: false })
  await eventually(() => gone.includes('slow-v5') && gone.includes('slow-v4'), 15000)

  // the broker let go of it, but its socket lingers: what was buffered, then the DISCONNECT, can still be read
  slow.sock.resume()
  await slow.closed
  const publishes = slow.packets.filter(p => p.cmd === 'publish').length
  const last = slow.packets.at(-1) as { cmd: string, reasonCode?: number }
  assert.equal(last.cmd, 'disconnect', `last of ${slow.packets.length} packets: ${last.cmd}`)
  assert.equal(last.reasonCode, 0x97)
  assert.ok(publishes > 0 && publishes < sent, `${publishes} publishes before the DISCONNECT`)
  assert.equal(b.metrics.all()['packets/disconnect/sent'], 1)
  await eventually(() => b.listeners().find(l => l.protocol === 'mqtt:tcp')?.shutdownCount.slow_consumer === 2)
})

test('a lingering slow consumer that never reads is closed within the linger bound', { timeout: 60000 }, async (t) => {
  const b = await start(t, { slowConsumer: { bytes: 256 * 1024, seconds: 1 } })
  const slow = await rawV5(b.ports.mqtt, 'stuck-v5')
  slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'load/#', qos: 1 }] })
  await eventually(() => slow.packets.some(p => p.cmd === 'suback'))
  slow.sock.pause()
  let goneAt = 0
  aedesOf(b).on('clientDisconnect', () => { goneAt = Date.now() })
  const payload = Buffer.alloc(64 * 1024, 0x5a)
  for (let i = 0; i < 240; i++) await b.publish({ topic: 'load/x', payload, qos: 1, retain: false })
  await eventually(() => goneAt > 0, 15000)
  // never resumed: the server side closes anyway (its buffered bytes are dropped)
  await eventually(() => b.listeners().find(l => l.protocol === 'mqtt:tcp')?.currentConns === 0, 5000)
  const lingered = Date.now() - goneAt
  assert.ok(lingered < 4000, `closed ${lingered} ms after the broker let go of it`)
  t.diagnostic(`closed ${lingered} ms after the broker let go of it`)
})

test('shutdown: MQTT 5 clients (TCP and WebSocket) get DISCONNECT 0x8B before the close; a 3.1.1 client is closed', async (t) => {
  const b = await start(t)
  const v5 = await connect(t, b, { clientId: 'down-v5', protocolVersion: 5 })
  const ws5 = await connect(t, b, { clientId: 'down-ws5', protocolVersion: 5 }, true)
  const v4 = await connect(t, b, { clientId: 'down-v4' })
  const got = [serverDisconnect(v5), serverDisconnect(ws5), serverDisconnect(v4)]
  await b.close()
  const [a, w, c] = await Promise.all(got)
  assert.equal(a?.reasonCode, 0x8b)
  assert.equal(w?.reasonCode, 0x8b)
  assert.equal(c, null)
})

test('the octets counted for an MQTT 5 connection are the bytes it was sent, properties and reason codes included', async (t) => {
  const b = await start(t)
  const sub = await rawV5(b.ports.mqtt, 'octets-v5')
  sub.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 7 }, subscriptions: [{ topic: 'o/#', qos: 1 }] })
  await eventually(() => sub.packets.some(p => p.cmd === 'suback'))
  const properties = { contentType: 'text/plain', userProperties: { a: 'b', trace: 'x'.repeat(300) }, correlationData: Buffer.from('c1'), messageExpiryInterval: 60 }
  await b.publish({ topic: 'o/small', payload: Buffer.from('hi'), qos: 1, retain: false, properties })
  await b.publish({ topic: 'o/big', payload: Buffer.alloc(20000, 1), qos: 0, retain: false, properties })
  await b.publish({ topic: 'o/plain', payload: Buffer.from('p'), qos: 1, retain: false })
  await eventually(() => sub.packets.filter(p => p.cmd === 'publish').length === 3)
  const info = b.registry.connection('octets-v5')!
  // CONNACK, SUBACK and three PUBLISH, exactly as read off the socket
  assert.equal(info.counters.sendPkt, 5)
  assert.equal(info.counters.sendOct, sub.received.bytes)
  sub.sock.destroy()
})
