// MQTT 5 flow towards the client (src/broker/v5-flow.ts) and the v5 CONNECT options we add to aedes 2:
// Receive Maximum, Maximum Packet Size both ways, topic aliases both ways, every matching Subscription
// Identifier, Server Keep Alive and Response Information. mqtt.js at protocolVersion 5 over TCP (WebSocket
// once), MQTT 3.1.1 clients beside them to show they are served as before.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import type { IClientOptions, IPublishPacket, MqttClient, Packet } from 'mqtt'
import { connect, start } from './helpers.js'
import type { Broker } from '../../src/broker/broker.js'
import { sleep, until } from '../support/wait.js'

interface MqttPacketModule {
  generate: (packet: object, opts?: object) => Buffer
  parser: (opts?: object) => NodeJS.EventEmitter & { parse: (b: Buffer) => void }
}
const mqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as MqttPacketModule

const V5: IClientOptions = { protocolVersion: 5 }

/** A v5 subscriber that acknowledges only when told: `ack()` sends the oldest PUBACK/PUBREC held back. */
async function slowAcker (t: TestContext, b: Broker, opts: IClientOptions): Promise<{ client: MqttClient, got: string[], ack: () => void }> {
  const pending: Array<() => void> = []
  const got: string[] = []
  const client = await connect(t, b, {
    ...V5,
    ...opts,
    customHandleAcks: (_topic: string, payload: Buffer, _packet: unknown, done: (rc: number) => void) => {
      got.push(payload.toString())
      pending.push(() => { done(0) })
    }
  })
  return { client, got, ack: () => { pending.shift()?.() } }
}

/** Every PUBLISH `c` receives, as it came over the wire. */
function publishes (c: MqttClient): IPublishPacket[] {
  const seen: IPublishPacket[] = []
  c.on('packetreceive', (p: Packet) => { if (p.cmd === 'publish') seen.push({ ...p, properties: { ...p.properties } }) })
  return seen
}

/** A raw TCP connection, its packets parsed (at `version`), and whether it closed. */
async function raw (t: TestContext, b: Broker, version: number): Promise<{ socket: net.Socket, packets: Array<Record<string, unknown>>, closed: () => boolean, send: (p: object) => void }> {
  const socket = net.connect(b.ports.mqtt, '127.0.0.1')
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  const packets: Array<Record<string, unknown>> = []
  const parser = mqttPacket.parser({ protocolVersion: version })
  parser.on('packet', (p: Record<string, unknown>) => packets.push(p))
  socket.on('data', (d: Buffer) => { parser.parse(d) })
  let closed = false
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  return { socket, packets, closed: () => closed, send: (p) => socket.write(mqttPacket.generate(p, { protocolVersion: version })) }
}

const metric = (b: Broker, name: string): number => b.metrics.all()[name] ?? 0

/** A raw subscriber (acks only what the test sends) to `filter` at QoS 2; its PUBLISHes by payload. */
async function rawSubscriber (t: TestContext, b: Broker, version: number, clientId: string, filter: string, properties?: object): Promise<Awaited<ReturnType<typeof raw>> & { got: () => string[] }> {
  const c = await raw(t, b, version)
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, ...properties !== undefined ? { properties } : {} })
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 2 }] })
  await until(() => c.packets.some(p => p.cmd === 'suback'), 'SUBACK')
  const got = (): string[] => c.packets.filter(p => p.cmd === 'publish').map(p => String(p.payload))
  return { ...c, got }
}

const idOf = (c: { packets: Array<Record<string, unknown>> }, payload: string): number =>
  c.packets.find(p => p.cmd === 'publish' && String(p.payload) === payload)?.messageId as number

test('Receive Maximum: a v5 client has at most that many QoS 1/2 deliveries unacknowledged; the rest wait, in order, and go as acks arrive', async (t) => {
  const b = await start(t)
  const sub = await rawSubscriber(t, b, 5, 'rm-sub', 'rm/#', { receiveMaximum: 2 })
  const pub = await connect(t, b, { clientId: 'rm-pub' })
  // odd ones QoS 1, even ones QoS 2
  for (let i = 1; i <= 6; i++) await pub.publishAsync('rm/t', `m${i}`, { qos: i % 2 === 0 ? 2 : 1 })
  await until(() => sub.got().length === 2, 'the first two')
  await sleep(300)
  assert.deepEqual(sub.got(), ['m1', 'm2'], 'nothing beyond the window before an ack')
  sub.send({ cmd: 'puback', messageId: idOf(sub, 'm1') })
  await until(() => sub.got().length === 3, 'a third after one PUBACK')
  // a QoS 2 delivery stays in flight after PUBREC, until PUBCOMP
  sub.send({ cmd: 'pubrec', messageId: idOf(sub, 'm2') })
  await until(() => sub.packets.some(p => p.cmd === 'pubrel'), 'PUBREL')
  await sleep(300)
  assert.deepEqual(sub.got(), ['m1', 'm2', 'm3'], 'PUBREC does not open the window')
  sub.send({ cmd: 'pubcomp', messageId: idOf(sub, 'm2') })
  await until(() => sub.got().length === 4, 'a fourth after PUBCOMP')
  sub.send({ cmd: 'puback', messageId: idOf(sub, 'm3') })
  await until(() => sub.got().length === 5, 'a fifth')
  // a PUBREC with an error code ends a QoS 2 delivery [MQTT-4.3.3]
  sub.send({ cmd: 'pubrec', messageId: idOf(sub, 'm4'), reasonCode: 0x80 })
  await until(() => sub.got().length === 6, () => `all six, got ${sub.got().join(',')}`)
  assert.deepEqual(sub.got(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'queued ones keep their order')
})

test('Receive Maximum: an MQTT 3.1.1 subscriber gets everything unacknowledged as before; a v5 one without the property has 65535', async (t) => {
  const b = await start(t)
  const v3 = await rawSubscriber(t, b, 4, 'rm-v3', 'rm3/t')
  const v5 = await rawSubscriber(t, b, 5, 'rm-v5', 'rm3/t')
  const pub = await connect(t, b, { clientId: 'rm3-pub' })
  for (let i = 0; i < 20; i++) await pub.publishAsync('rm3/t', `m${i}`, { qos: 1 })
  await until(() => v3.got().length === 20 && v5.got().length === 20, () => `20 each: ${v3.got().length}, ${v5.got().length}`)
})

test('Receive Maximum: deliveries waiting for the window of a persistent session are not lost when the client goes away', async (t) => {
  const b = await start(t)
  const opts = { clientId: 'rm-persist', clean: false, properties: { receiveMaximum: 1, sessionExpiryInterval: 300 } }
  const first = await slowAcker(t, b, opts)
  await first.client.subscribeAsync('rmp/t', { qos: 1 })
  const pub = await connect(t, b, { clientId: 'rmp-pub' })
  for (let i = 1; i <= 4; i++) await pub.publishAsync('rmp/t', `m${i}`, { qos: 1 })
  await until(() => first.got.length === 1, 'one in the window')
  await sleep(200)
  assert.deepEqual(first.got, ['m1'])
  first.client.stream.destroy() // no ack, no DISCONNECT
  await until(() => b.registry.connections().length === 1, 'the subscriber gone')
  const got: string[] = []
  const again = await connect(t, b, { ...V5, ...opts, properties: { sessionExpiryInterval: 300 } })
  again.on('message', (_t, p) => got.push(p.toString()))
  await until(() => got.length >= 4, () => `the four again, got ${got.join(',')}`, 3000)
  assert.deepEqual([...new Set(got)], ['m1', 'm2', 'm3', 'm4'])
})

test('Maximum Packet Size towards the client: a larger message is not sent to it (counted in messages/dropped), smaller ones are, and QoS 1 does not hold the window', async (t) => {
  const b = await start(t)
  const small = await connect(t, b, { ...V5, clientId: 'mps-sub', properties: { maximumPacketSize: 64, receiveMaximum: 1 } })
  const seen = publishes(small)
  await small.subscribeAsync('mps/t', { qos: 1 })
  const v3 = await connect(t, b, { clientId: 'mps-v3' })
  const got3: number[] = []
  v3.on('message', (_t, p) => got3.push(p.length))
  await v3.subscribeAsync('mps/t', { qos: 1 })
  const pub = await connect(t, b, { clientId: 'mps-pub' })
  const before = metric(b, 'messages/dropped')
  await pub.publishAsync('mps/t', '.'.repeat(32), { qos: 0 })
  await pub.publishAsync('mps/t', '.'.repeat(64), { qos: 0 })
  await pub.publishAsync('mps/t', '.'.repeat(64), { qos: 1 })
  await pub.publishAsync('mps/t', '.'.repeat(40), { qos: 1 })
  await pub.publishAsync('mps/t', '.'.repeat(41), { qos: 1 })
  await until(() => got3.length === 5, 'all five to the 3.1.1 subscriber')
  await until(() => seen.length === 3, () => `three small ones, saw ${seen.map(p => p.payload.length).join(',')}`)
  await sleep(200)
  assert.deepEqual(seen.map(p => p.payload.length), [32, 40, 41])
  // 2 + 5 topic + 2 id + 1 property length + 41 = 51 remaining, 53 on the wire: under 64
  assert.ok(!small.disconnected && small.connected, 'the client stays connected')
  assert.equal(metric(b, 'messages/dropped') - before, 2)
})

test('Maximum Packet Size towards the client: properties count (user properties make a small payload too large)', async (t) => {
  const b = await start(t)
  const sub = await connect(t, b, { ...V5, clientId: 'mpsp-sub', properties: { maximumPacketSize: 100 } })
  const seen = publishes(sub)
  await sub.subscribeAsync('mpsp/t', { qos: 1 })
  const pub = await connect(t, b, { ...V5, clientId: 'mpsp-pub' })
  await pub.publishAsync('mpsp/t', 'x', { qos: 1, properties: { userProperties: { k: 'v'.repeat(100) } } })
  await pub.publishAsync('mpsp/t', 'y', { qos: 1, properties: { userProperties: { k: 'v' } } })
  await until(() => seen.length === 1, 'the small one')
  await sleep(200)
  assert.deepEqual(seen.map(p => p.payload.toString()), ['y'])
})

test('an inbound packet above mqtt.max_packet_size: a v5 client gets DISCONNECT 0x95 before the close, a 3.1.1 client is closed', async (t) => {
  const b = await start(t, { maxPacketSize: () => 100 })
  const v5 = await connect(t, b, { ...V5, clientId: 'big-v5' })
  // the limit on the remaining length, told as the whole packet's: 1 type byte, 1 length byte, 100
  const connack = await new Promise<number | undefined>(resolve => {
    const probe = net.connect(b.ports.mqtt, '127.0.0.1', () => { probe.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'big-probe', clean: true, keepalive: 0 }, { protocolVersion: 5 })) })
    const parser = mqttPacket.parser({ protocolVersion: 5 })
    parser.on('packet', (p: { properties?: { maximumPacketSize?: number } }) => { resolve(p.properties?.maximumPacketSize); probe.destroy() })
    probe.on('data', (d: Buffer) => { parser.parse(d) })
  })
  assert.equal(connack, 102)
  const disconnect = new Promise<number | undefined>(resolve => v5.once('disconnect', (p) => { resolve(p.reasonCode) }))
  v5.publish('big/t', '.'.repeat(200), { qos: 0 })
  assert.equal(await disconnect, 0x95)
  await until(() => !v5.connected, 'the v5 client closed')

  const v3 = await raw(t, b, 4)
  v3.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'big-v3', clean: true, keepalive: 0 })
  await until(() => v3.packets.some(p => p.cmd === 'connack'), 'CONNACK')
  v3.send({ cmd: 'publish', topic: 'big/t', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false })
  await until(v3.closed, 'the 3.1.1 connection closed')
  assert.ok(!v3.packets.some(p => p.cmd === 'disconnect'))
})

test('topic aliases towards the client: up to its Topic Alias Maximum, the alias alone after the first PUBLISH of a topic', async (t) => {
  const b = await start(t)
  const sub = await connect(t, b, { ...V5, clientId: 'ta-sub', properties: { topicAliasMaximum: 2 } })
  const seen = publishes(sub)
  const topics: string[] = []
  sub.on('message', (topic) => topics.push(topic))
  await sub.subscribeAsync('ta/#', { qos: 1 })
  const none = await connect(t, b, { ...V5, clientId: 'ta-none' })
  const seenNone = publishes(none)
  await none.subscribeAsync('ta/#', { qos: 1 })
  const pub = await connect(t, b, { clientId: 'ta-pub' })
  const sent = ['ta/a', 'ta/a', 'ta/b', 'ta/c', 'ta/b', 'ta/a', 'ta/c']
  // QoS 0 and 1: mqtt.js names a QoS 2 message by the topic of its stored PUBLISH, empty when aliased
  for (const [i, topic] of sent.entries()) await pub.publishAsync(topic, `m${i}`, { qos: (i % 2) as 0 | 1 })
  await until(() => topics.length === sent.length && seenNone.length === sent.length, 'every message')
  assert.deepEqual(topics, sent, 'mqtt.js resolves every alias to its topic')
  assert.deepEqual(seen.map(p => [p.topic, p.properties?.topicAlias]), [
    ['ta/a', 1], ['', 1], ['ta/b', 2], ['ta/c', undefined], ['', 2], ['', 1], ['ta/c', undefined]
  ])
  assert.ok(seenNone.every(p => p.properties?.topicAlias === undefined && p.topic !== ''), 'no alias to a client that allows none')
})

test('topic aliases from the client: the Topic Alias Maximum we advertise is honoured; one above it ends the connection with 0x94', async (t) => {
  const b = await start(t, { topicAliasMaximum: 3 })
  const sub = await connect(t, b, { clientId: 'tin-sub' })
  const got: string[] = []
  sub.on('message', (topic, p) => got.push(`${topic}:${p.toString()}`))
  await sub.subscribeAsync('tin/#', { qos: 1 })
  const pub = await connect(t, b, { ...V5, clientId: 'tin-pub' })
  await pub.publishAsync('tin/x', 'a', { qos: 1, properties: { topicAlias: 3 } })
  await pub.publishAsync('', 'b', { qos: 1, properties: { topicAlias: 3 } })
  await until(() => got.length === 2, 'both')
  assert.deepEqual(got, ['tin/x:a', 'tin/x:b'])

  const bad = await raw(t, b, 5)
  bad.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'tin-bad', clean: true, keepalive: 0 })
  await until(() => bad.packets.some(p => p.cmd === 'connack'), 'CONNACK')
  assert.equal((bad.packets[0]?.properties as { topicAliasMaximum?: number }).topicAliasMaximum, 3)
  bad.send({ cmd: 'publish', topic: 'tin/y', payload: Buffer.from('c'), qos: 0, retain: false, dup: false, properties: { topicAlias: 4 } })
  await until(bad.closed, 'closed')
  assert.equal(bad.packets.find(p => p.cmd === 'disconnect')?.reasonCode, 0x94)
})

test('subscription identifiers: a message matching several subscriptions of one client carries every matching identifier', async (t) => {
  const b = await start(t)
  const sub = await connect(t, b, { ...V5, clientId: 'si-sub' })
  const seen = publishes(sub)
  await sub.subscribeAsync('si/a', { qos: 1, properties: { subscriptionIdentifier: 2 } })
  await sub.subscribeAsync('si/#', { qos: 1, properties: { subscriptionIdentifier: 3 } })
  await sub.subscribeAsync('si/+', { qos: 0 })
  const other = await connect(t, b, { ...V5, clientId: 'si-other' })
  const seenOther = publishes(other)
  await other.subscribeAsync('si/a', { qos: 1, properties: { subscriptionIdentifier: 456789 } })
  const pub = await connect(t, b, { clientId: 'si-pub' })
  await pub.publishAsync('si/a', 'one', { qos: 1 })
  await pub.publishAsync('si/b/c', 'two', { qos: 1 })
  await until(() => seen.length === 2 && seenOther.length === 1, 'the messages')
  const ids = (p: IPublishPacket | undefined): number[] => {
    const si = p?.properties?.subscriptionIdentifier
    return (Array.isArray(si) ? si : si === undefined ? [] : [si]).slice().sort((x, y) => x - y)
  }
  assert.deepEqual(ids(seen[0]), [2, 3])
  assert.deepEqual(ids(seen[1]), [3])
  assert.deepEqual(ids(seenOther[0]), [456789])

  // a retained message sent for one SUBSCRIBE carries that subscription's identifier only [MQTT-3.3.4-3]
  await pub.publishAsync('si/r', 'kept', { qos: 1, retain: true })
  await until(() => seen.length === 3, 'the live copy of the retained message')
  await sub.subscribeAsync('si/r', { qos: 1, properties: { subscriptionIdentifier: 7 } })
  await until(() => seen.length === 4, 'the retained message for the new subscription')
  assert.deepEqual(ids(seen[3]), [7])
})

test('Server Keep Alive: a v5 client asking for more is told our maximum and held to it; one asking for less keeps its own; 3.1.1 clients are not refused', async (t) => {
  let max = 2
  const b = await start(t, { serverKeepAlive: () => max })
  const asking = await raw(t, b, 5)
  asking.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ska-long', clean: true, keepalive: 120 })
  await until(() => asking.packets.some(p => p.cmd === 'connack'), 'CONNACK')
  const connack = asking.packets[0] as { reasonCode: number, properties?: { serverKeepAlive?: number } }
  assert.equal(connack.reasonCode, 0)
  assert.equal(connack.properties?.serverKeepAlive, 2)
  assert.equal(b.registry.connections().find(c => c.clientId === 'ska-long')?.keepalive, 2, 'the API shows the keep alive in force')

  await connect(t, b, { ...V5, clientId: 'ska-short', keepalive: 1 })
  assert.equal(b.registry.connections().find(c => c.clientId === 'ska-short')?.keepalive, 1)

  const v3 = await raw(t, b, 4)
  v3.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ska-v3', clean: true, keepalive: 0 })
  const v3long = await raw(t, b, 4)
  v3long.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ska-v3-long', clean: true, keepalive: 600 })
  await until(() => v3.packets.some(p => p.cmd === 'connack') && v3long.packets.some(p => p.cmd === 'connack'), 'CONNACKs')
  assert.equal(v3.packets[0]?.returnCode, 0)
  assert.equal(v3long.packets[0]?.returnCode, 0)

  // silent: closed after 1.5 × 2 s, not 1.5 × 120 s [MQTT-3.1.2-24], told why (0x8D Keep Alive timeout)
  const t0 = Date.now()
  await until(asking.closed, 'the silent v5 client closed', 6000)
  assert.ok(Date.now() - t0 < 5000)
  assert.equal(asking.packets.find(p => p.cmd === 'disconnect')?.reasonCode, 0x8d)
  assert.ok(!v3.closed() && !v3long.closed(), '3.1.1 clients keep their keep alive (0: none)')

  // a 3.1.1 client past its keep alive is closed without a DISCONNECT (servers send none in 3.1.1)
  const v3short = await raw(t, b, 4)
  v3short.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ska-v3-short', clean: true, keepalive: 1 })
  await until(v3short.closed, 'the silent 3.1.1 client closed', 4000)
  assert.deepEqual(v3short.packets.map(p => p.cmd), ['connack'])

  // a live change applies to the next connection
  max = 0
  const off = await raw(t, b, 5)
  off.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ska-off', clean: true, keepalive: 120 })
  await until(() => off.packets.some(p => p.cmd === 'connack'), 'CONNACK')
  assert.equal((off.packets[0] as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, undefined)
})

test('Response Information: sent in CONNACK to a v5 client that asks for it, not to one that does not', async (t) => {
  const b = await start(t, { responseInformation: (id) => `reply/${id}` })
  const asking = await raw(t, b, 5)
  asking.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ri-ask', clean: true, keepalive: 0, properties: { requestResponseInformation: true } })
  const quiet = await raw(t, b, 5)
  quiet.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ri-quiet', clean: true, keepalive: 0 })
  await until(() => asking.packets.length > 0 && quiet.packets.length > 0, 'CONNACKs')
  assert.equal((asking.packets[0] as { properties?: { responseInformation?: string } }).properties?.responseInformation, 'reply/ri-ask')
  assert.equal((quiet.packets[0] as { properties?: { responseInformation?: string } }).properties?.responseInformation, undefined)
})

test('over WebSocket too: Receive Maximum and topic aliases', async (t) => {
  const b = await start(t)
  const pending: Array<() => void> = []
  const got: string[] = []
  const sub = await connect(t, b, {
    ...V5,
    clientId: 'ws-sub',
    properties: { receiveMaximum: 1, topicAliasMaximum: 1 },
    customHandleAcks: (_topic: string, payload: Buffer, _packet: unknown, done: (rc: number) => void) => {
      got.push(payload.toString())
      pending.push(() => { done(0) })
    }
  }, true)
  const seen = publishes(sub)
  await sub.subscribeAsync('ws/t', { qos: 1 })
  const pub = await connect(t, b, { clientId: 'ws-pub' })
  for (let i = 1; i <= 3; i++) await pub.publishAsync('ws/t', `m${i}`, { qos: 1 })
  await until(() => got.length === 1, 'one')
  await sleep(200)
  assert.equal(got.length, 1)
  pending.shift()?.()
  await until(() => got.length === 2, 'two')
  pending.shift()?.()
  await until(() => got.length === 3, 'three')
  assert.deepEqual(seen.map(p => p.topic), ['ws/t', '', ''])
})
