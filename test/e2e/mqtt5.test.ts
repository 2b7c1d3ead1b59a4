// MQTT 5 on aedes 2: what our layer carries or corrects (src/broker/upstream.ts), with real
// mqtt.js clients at protocolVersion 5 and, where a client must misbehave, raw frames written and
// read by mqtt-packet.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { IConnackPacket, IPublishPacket, MqttClient, Packet } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestNode, type TestNode } from '../helpers.js'
import { connectCollecting } from '../support/mqtt.js'
import { eventually, sleep } from '../support/wait.js'

const V5 = { protocolVersion: 5 } as const

/** A raw connection speaking `protocolVersion`, every packet the server sends parsed and kept. */
class Wire {
  readonly got: Packet[] = []
  closed = false
  private constructor (readonly sock: net.Socket, readonly protocolVersion: 4 | 5) {
    const parser = mqttPacket.parser({ protocolVersion })
    parser.on('packet', (p) => { this.got.push(p as Packet) })
    sock.on('data', (d: Buffer) => { parser.parse(d) })
    sock.on('error', () => {})
    sock.on('close', () => { this.closed = true })
  }

  static async open (n: TestNode, protocolVersion: 4 | 5): Promise<Wire> {
    const sock = net.connect(n.node.ports.mqtt, '127.0.0.1')
    await new Promise(resolve => sock.once('connect', resolve))
    return new Wire(sock, protocolVersion)
  }

  send (packet: object): void {
    this.sock.write(mqttPacket.generate(packet as mqttPacket.Packet, { protocolVersion: this.protocolVersion }))
  }

  async connect (clientId: string): Promise<IConnackPacket> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: this.protocolVersion, clientId, clean: true, keepalive: 0 })
    return await eventually(() => this.got.find(p => p.cmd === 'connack') as IConnackPacket | undefined, 3000)
  }

  count (cmd: string): number {
    return this.got.filter(p => p.cmd === cmd).length
  }
}

/** QoS 2 messages with ids 1..n, never released (no PUBREL), in one write. */
function qos2Burst (w: Wire, n: number): void {
  const frames: Buffer[] = []
  for (let id = 1; id <= n; id++) {
    frames.push(mqttPacket.generate({ cmd: 'publish', topic: 'rm/x', payload: Buffer.from(`m${id}`), qos: 2, messageId: id, retain: false, dup: false }, { protocolVersion: w.protocolVersion }))
  }
  w.sock.write(Buffer.concat(frames))
}

test('Receive Maximum: advertised in CONNACK (1000 by default, MQTT_MAX_AWAITING_REL) and enforced; one more QoS 2 awaiting PUBREL is DISCONNECT 0x93 for v5, a closed connection for 3.1.1', async (t) => {
  const byDefault = await startTestNode(t)
  const d = await Wire.open(byDefault, 5)
  assert.equal((await d.connect('rm-default')).properties?.receiveMaximum, 1000)
  d.sock.destroy()

  // a smaller window, so that the MongoDB suite (a store round trip per message) is as quick as the embedded one
  const limit = 100
  const n = await startTestNode(t, { MQTT_MAX_AWAITING_REL: String(limit) })
  const v5 = await Wire.open(n, 5)
  const connack = await v5.connect('rm-v5')
  assert.equal(connack.reasonCode, 0)
  assert.equal(connack.properties?.receiveMaximum, limit)
  qos2Burst(v5, limit + 1)
  await eventually(() => v5.closed, { timeoutMs: 60000, what: () => `the close; ${v5.count('pubrec')} PUBREC and ${v5.count('disconnect')} DISCONNECT so far` })
  const disconnect = v5.got.find(p => p.cmd === 'disconnect') as { reasonCode?: number } | undefined
  assert.equal(disconnect?.reasonCode, 0x93, 'DISCONNECT Receive Maximum exceeded')
  assert.ok(v5.count('pubrec') <= limit, `at most ${limit} PUBREC, got ${v5.count('pubrec')}`)

  // a full window is served: PUBREC for each, released, no disconnect
  const ok = await Wire.open(n, 5)
  await ok.connect('rm-v5-ok')
  qos2Burst(ok, limit)
  await eventually(() => ok.count('pubrec') === limit, 60000)
  for (let id = 1; id <= limit; id++) ok.send({ cmd: 'pubrel', messageId: id })
  await eventually(() => ok.count('pubcomp') === limit, 60000)
  qos2Burst(ok, limit) // the ids are free again
  await eventually(() => ok.count('pubrec') === 2 * limit, 60000)
  assert.equal(ok.closed, false)
  ok.sock.destroy()

  const v4 = await Wire.open(n, 4)
  assert.equal((await v4.connect('rm-v4')).returnCode, 0)
  qos2Burst(v4, limit + 1)
  await eventually(() => v4.closed, 60000)
  // the connection ends at the refused one, before aedes has answered all before it
  assert.ok(v4.count('pubrec') <= limit)
})

test('will: published without Will Delay Interval among its PUBLISH properties, after the delay, with its own properties', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ ...V5, clientId: 'will-sub' })
  const wills: IPublishPacket[] = []
  sub.on('message', (_t, _p, packet) => { wills.push(packet) })
  await sub.subscribeAsync('will/w5', { qos: 1 })
  const dying = await n.client({
    ...V5,
    clientId: 'will-v5',
    properties: { sessionExpiryInterval: 30 },
    will: { topic: 'will/w5', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 1, contentType: 'text/plain', userProperties: { k: 'v' } } }
  })
  const cut = Date.now()
  dying.stream.destroy()
  await sleep(500)
  assert.equal(wills.length, 0, 'not before the delay')
  await eventually(() => wills.length === 1, 5000)
  assert.ok(Date.now() - cut >= 900, 'after the Will Delay Interval')
  const props = wills[0]!.properties ?? {}
  assert.equal((props as { willDelayInterval?: number }).willDelayInterval, undefined)
  assert.equal(props.contentType, 'text/plain')
  assert.deepEqual({ ...props.userProperties }, { k: 'v' })
  assert.equal(wills[0]!.payload.toString(), 'gone')
})

test('a v5 session resumed with Clean Start 0 and Session Expiry 0 gets its queued messages [MQTT-3.1.2-5], then ends with that connection', async (t) => {
  const n = await startTestNode(t)
  const first = await n.client({ ...V5, clientId: 'resume0', clean: false, properties: { sessionExpiryInterval: 60 } })
  await first.subscribeAsync('rq/#', { qos: 1 })
  await first.endAsync()
  const pub = await n.client({ ...V5, clientId: 'resume0-pub' })
  for (const m of ['a', 'b', 'c']) await pub.publishAsync('rq/x', m, { qos: 1 })

  const { client, connack, received } = await connectCollecting(t, n.mqttUrl, { ...V5, clientId: 'resume0', clean: false, properties: { sessionExpiryInterval: 0 } })
  assert.equal(connack.sessionPresent, true)
  await eventually(() => received.length === 3, 3000)
  assert.deepEqual(received, ['a', 'b', 'c'])
  // still delivered live while connected
  await pub.publishAsync('rq/x', 'd', { qos: 1 })
  await eventually(() => received.length === 4, 3000)
  await client.endAsync()

  // expiry 0: the session ended with the connection
  const { connack: again } = await connectCollecting(t, n.mqttUrl, { ...V5, clientId: 'resume0', clean: false, properties: { sessionExpiryInterval: 0 } })
  assert.equal(again.sessionPresent, false)
})

test('shared subscriptions for v5 clients: CONNACK does not refuse them, SUBACK grants $share/ and $queue/, each message reaches one member (3.1.1 and v5 mixed)', async (t) => {
  const n = await startTestNode(t)
  const members: Array<{ c: MqttClient, got: string[] }> = []
  for (const [i, opts] of [V5, V5, { protocolVersion: 4 as const }].entries()) {
    const { client, connack, received } = await connectCollecting(t, n.mqttUrl, { ...opts, clientId: `sh5-${i}` })
    if (opts.protocolVersion === 5) assert.equal(connack.properties?.sharedSubscriptionAvailable, undefined, 'absent: available')
    const granted = await client.subscribeAsync('$share/g5/sh/+', { qos: 1 })
    assert.deepEqual(granted.map(g => g.qos), [1])
    members.push({ c: client, got: received })
  }
  const q = await n.client({ ...V5, clientId: 'sh5-queue' })
  assert.deepEqual((await q.subscribeAsync('$queue/shq', { qos: 0 })).map(g => g.qos), [0])
  // a SUBSCRIBE naming a shared and a plain filter: both granted, the client still v5 afterwards
  const both = await n.client({ ...V5, clientId: 'sh5-both' })
  const bothGot: IPublishPacket[] = []
  both.on('message', (_t, _p, packet) => { bothGot.push(packet) })
  assert.deepEqual((await both.subscribeAsync({ '$share/g6/sh/+': { qos: 1 }, 'plain/x': { qos: 1 } })).map(g => g.qos), [1, 1])

  const pub = await n.client({ ...V5, clientId: 'sh5-pub' })
  const sent: string[] = []
  for (let i = 0; i < 30; i++) {
    sent.push(`m${i}`)
    await pub.publishAsync('sh/t', `m${i}`, { qos: 1 })
  }
  await eventually(() => members.flatMap(m => m.got).length >= 30, 5000)
  await sleep(200)
  assert.deepEqual(members.flatMap(m => m.got).sort(), [...sent].sort(), 'each message once in the group')
  assert.ok(members.filter(m => m.got.length > 0).length >= 2, 'spread over the members')
  await eventually(() => bothGot.length === 30, 5000)
  await pub.publishAsync('plain/x', 'p', { qos: 1, properties: { userProperties: { a: '1' } } })
  await eventually(() => bothGot.length === 31, 5000)
  assert.deepEqual({ ...bothGot[30]!.properties?.userProperties }, { a: '1' }, 'v5 properties: the client reads as v5 again')
})

test('a v5 session keeps the expiry its DISCONNECT set (1 s at CONNECT, 5 s at DISCONNECT): present after 2.5 s, gone after 6 s', async (t) => {
  const n = await startTestNode(t)
  const opts = { ...V5, clientId: 'disc-exp', clean: false, properties: { sessionExpiryInterval: 1 } }
  const c = await n.client(opts)
  await c.subscribeAsync('de/t', { qos: 1 })
  await c.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 5 } })
  await sleep(2500)
  const { client: back, connack } = await connectCollecting(t, n.mqttUrl, opts)
  assert.equal(connack.sessionPresent, true, 'the 5 s of the DISCONNECT, not the 1 s of the CONNECT')
  await back.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 2 } })
  await sleep(3500)
  const { connack: gone } = await connectCollecting(t, n.mqttUrl, opts)
  assert.equal(gone.sessionPresent, false)
})
