// MQTT 5 through the API (issue 16): v5 connections and sessions listed with their fields, POST
// /mqtt/publish with v5 properties (delivered to v5 subscribers, not to 3.1.1 ones; message expiry
// in the offline queue; bad properties refused whole), kickout and ban as DISCONNECT with a
// reason code, the v5 packets in the metrics. Real node, mqtt.js at protocolVersion 5 over TCP and WebSocket.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IDisconnectPacket, IPublishPacket, MqttClient } from 'mqtt'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

/** every PUBLISH packet `c` receives, from now on */
function packets (c: MqttClient): IPublishPacket[] {
  const got: IPublishPacket[] = []
  c.on('message', (_topic, _payload, packet) => { got.push(packet) })
  return got
}

/** the server's DISCONNECT to `c` (null: the connection closed without one), within 5 s */
function serverDisconnect (c: MqttClient): Promise<IDisconnectPacket | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('connection still open after 5 s')) }, 5000)
    c.once('disconnect', (p) => { clearTimeout(timer); resolve(p) })
    c.once('close', () => { setTimeout(() => { clearTimeout(timer); resolve(null) }, 50) })
  })
}

async function connection (n: TestNode, clientId: string): Promise<any> {
  return await eventually(async () => (await n.api('GET', `/connections/${clientId}`)).body[0] ?? null)
}

test('an MQTT 5 connection is listed with proto_ver 5 and its CONNECT properties; 3.1.1 rows carry the v3 defaults', async (t) => {
  const n = await startTestNode(t)
  await n.client({
    clientId: 'v5-tcp',
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 20, topicAliasMaximum: 10, maximumPacketSize: 1048576 }
  })
  await n.client({ clientId: 'v5-ws', protocolVersion: 5, ws: true })
  await n.client({ clientId: 'v4-persistent', clean: false })
  await n.client({ clientId: 'v4-clean' })

  const v5 = await connection(n, 'v5-tcp')
  assert.equal(v5.proto_ver, 5)
  assert.equal(v5.proto_name, 'MQTT')
  assert.equal(v5.clean_start, false)
  assert.equal(v5.expiry_interval, 3600)
  assert.equal(v5.receive_maximum, 20)
  assert.equal(v5.topic_alias_maximum, 10)
  assert.equal(v5.maximum_packet_size, 1048576)
  // none sent: the standard's defaults
  const ws = await connection(n, 'v5-ws')
  assert.deepEqual([ws.proto_ver, ws.expiry_interval, ws.receive_maximum, ws.topic_alias_maximum, ws.maximum_packet_size], [5, 0, 65535, 0, 0])
  const persistent = await connection(n, 'v4-persistent')
  assert.deepEqual([persistent.proto_ver, persistent.expiry_interval, persistent.receive_maximum, persistent.topic_alias_maximum], [4, 7200, 65535, 0])
  assert.equal((await connection(n, 'v4-clean')).expiry_interval, 0)

  const only5 = await n.api('GET', '/connections?proto_ver=5')
  assert.deepEqual(only5.body.items.map((c: any) => c.client_id), ['v5-tcp', 'v5-ws'])
  const sorted = await n.api('GET', '/connections?_sort=-proto_ver&_limit=2')
  assert.deepEqual(sorted.body.items.map((c: any) => c.proto_ver), [5, 5])

  const [session] = (await n.api('GET', '/sessions/v5-tcp')).body
  assert.equal(session.expiry_interval, 3600)
  assert.equal(session.proto_ver, 5)
  assert.equal(session.proto_name, 'MQTT')
  const [v4session] = (await n.api('GET', '/sessions/v4-persistent')).body
  assert.deepEqual([v4session.expiry_interval, v4session.proto_ver], [7200, 4])
  assert.deepEqual((await n.api('GET', '/sessions?proto_ver=5')).body.items.map((s: any) => s.client_id), ['v5-tcp', 'v5-ws'])
})

test('POST /mqtt/publish: v5 properties reach an MQTT 5 subscriber; a 3.1.1 subscriber gets the message without them', async (t) => {
  const n = await startTestNode(t)
  const v5 = await n.client({ clientId: 'sub-v5', protocolVersion: 5 })
  const v4 = await n.client({ clientId: 'sub-v4' })
  const ws5 = await n.client({ clientId: 'sub-ws5', protocolVersion: 5, ws: true })
  await v5.subscribeAsync('cmd/#', { qos: 1 })
  await v4.subscribeAsync('cmd/#', { qos: 1 })
  await ws5.subscribeAsync('cmd/#', { qos: 0 })
  const got5 = packets(v5)
  const got4 = packets(v4)
  const gotWs = packets(ws5)

  const r = await n.api('POST', '/mqtt/publish', {
    body: {
      topic: 'cmd/7',
      payload: '{"on":true}',
      qos: 1,
      client_id: 'dashboard',
      properties: {
        payload_format_indicator: 1,
        message_expiry_interval: 60,
        content_type: 'application/json',
        response_topic: 'reply/7',
        correlation_data: 'req-42',
        user_properties: { origin: 'dashboard', 'trace-id': 'ab12' }
      }
    }
  })
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, { code: 0 })
  await eventually(() => got5.length === 1 && got4.length === 1 && gotWs.length === 1)
  for (const p of [got5[0]!, gotWs[0]!]) {
    assert.equal(p.payload.toString(), '{"on":true}')
    const props = p.properties!
    assert.equal(props.payloadFormatIndicator, true)
    assert.equal(props.contentType, 'application/json')
    assert.equal(props.responseTopic, 'reply/7')
    assert.equal(Buffer.from(props.correlationData!).toString(), 'req-42')
    assert.deepEqual({ ...props.userProperties }, { origin: 'dashboard', 'trace-id': 'ab12' })
    assert.ok(props.messageExpiryInterval !== undefined && props.messageExpiryInterval <= 60 && props.messageExpiryInterval >= 58, `messageExpiryInterval ${props.messageExpiryInterval}`)
  }
  assert.equal(got5[0]!.qos, 1)
  assert.equal(got4[0]!.payload.toString(), '{"on":true}')
  assert.equal(got4[0]!.properties, undefined)

  // a plain publish carries no properties, and 0 means no expiry
  await n.api('POST', '/mqtt/publish', { body: { topic: 'cmd/8', payload: 'x', properties: { message_expiry_interval: 0 } } })
  await eventually(() => got5.length === 2)
  assert.equal(got5[1]!.properties?.messageExpiryInterval, undefined)
})

test('message_expiry_interval: a message still queued for an offline v5 session when it expires is not delivered; one that is not comes with what remains', async (t) => {
  const n = await startTestNode(t)
  const opts = { clientId: 'away', protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 600 } }
  const first = await n.client(opts)
  await first.subscribeAsync('q/#', { qos: 1 })
  await first.endAsync()
  await eventually(async () => (await n.api('GET', '/sessions/away')).body[0]?.mqueue_len === 0)

  const publish = async (topic: string, properties?: object): Promise<void> => {
    const r = await n.api('POST', '/mqtt/publish', { body: { topic, payload: topic, qos: 1, ...properties === undefined ? {} : { properties } } })
    assert.deepEqual(r.body, { code: 0 })
  }
  await publish('q/short', { message_expiry_interval: 1 })
  await publish('q/long', { message_expiry_interval: 100 })
  await publish('q/never')
  await new Promise(resolve => setTimeout(resolve, 2200))

  const back = await n.client({ ...opts, clean: false })
  const got = packets(back)
  await eventually(() => got.length >= 2)
  // nothing else is on its way
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.deepEqual(got.map(p => p.topic), ['q/long', 'q/never'])
  const remaining = got[0]!.properties?.messageExpiryInterval
  assert.ok(remaining !== undefined && remaining <= 98 && remaining >= 90, `remaining ${remaining}`)
  assert.equal(got[1]!.properties?.messageExpiryInterval, undefined)
  // the expired one left the queue too, and is counted
  await eventually(async () => (await n.api('GET', '/sessions/away')).body[0]?.mqueue_len === 0)
  assert.equal((await n.api('GET', '/metrics')).body[0].metrics['messages/expired'], 1)
})

test('POST /mqtt/publish: bad v5 properties are a 400 with the catalog code, and nothing is published', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'watch', protocolVersion: 5 })
  await sub.subscribeAsync('#', { qos: 0 })
  const got = packets(sub)
  const bad: Array<[object, number]> = [
    [{ payload_format_indicator: 2 }, 108],
    [{ payload_format_indicator: true }, 108],
    [{ message_expiry_interval: -1 }, 108],
    [{ message_expiry_interval: 4294967296 }, 108],
    [{ message_expiry_interval: '60' }, 108],
    [{ content_type: 7 }, 108],
    [{ content_type: 'text/plain\u0000' }, 108],
    [{ correlation_data: { a: 1 } }, 108],
    [{ user_properties: { a: 1 } }, 108],
    [{ user_properties: ['a', 'b'] }, 108],
    [{ user_properties: { 'bad\u0000name': 'v' } }, 108],
    [{ user_properties: { big: 'x'.repeat(65536) } }, 108],
    [{ topic_alias: 3 }, 108],
    [{ response_topic: '' }, 108],
    [{ response_topic: 'reply/+' }, 115],
    [{ response_topic: 'reply/#' }, 115]
  ]
  for (const [properties, code] of bad) {
    const r = await n.api('POST', '/mqtt/publish', { body: { topic: 'a,b', payload: 'no', properties } })
    assert.equal(r.status, 400, `${JSON.stringify(properties).slice(0, 80)}: ${r.status} ${JSON.stringify(r.body)}`)
    assert.equal(r.body.code, code, `${JSON.stringify(properties).slice(0, 80)}: ${JSON.stringify(r.body)}`)
    assert.equal(typeof r.body.message, 'string')
  }
  const notObject = await n.api('POST', '/mqtt/publish', { body: { topic: 'a', properties: 'x' } })
  assert.deepEqual([notObject.status, notObject.body.code], [400, 108])
  // a good message after them proves the subscriber was listening: only it arrives
  await n.api('POST', '/mqtt/publish', { body: { topic: 'ok', payload: 'yes', properties: { content_type: 'text/plain' } } })
  await eventually(() => got.length === 1)
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.deepEqual(got.map(p => p.topic), ['ok'])
})

test('kickout sends an MQTT 5 client DISCONNECT 0x98 (TCP and WebSocket); a 3.1.1 client is closed; the metrics count the DISCONNECTs sent', async (t) => {
  const n = await startTestNode(t)
  const v5 = await n.client({ clientId: 'kick-v5', protocolVersion: 5 })
  const ws5 = await n.client({ clientId: 'kick-ws5', protocolVersion: 5, ws: true })
  const v4 = await n.client({ clientId: 'kick-v4' })
  const before = (await n.api('GET', '/metrics')).body[0].metrics

  for (const [c, id] of [[v5, 'kick-v5'], [ws5, 'kick-ws5']] as const) {
    const disconnect = serverDisconnect(c)
    assert.equal((await n.api('DELETE', `/connections/${id}`)).status, 200)
    const p = await disconnect
    assert.equal(p?.reasonCode, 0x98, id)
  }
  const closed = serverDisconnect(v4)
  assert.equal((await n.api('DELETE', '/connections/kick-v4')).status, 200)
  assert.equal(await closed, null)

  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 0)
  const after = (await n.api('GET', '/metrics')).body[0].metrics
  assert.equal(after['packets/disconnect/sent'] - before['packets/disconnect/sent'], 2)
  assert.ok(after['packets/connect'] >= 3)
  const listeners = (await n.api('GET', '/listeners')).body[0].listeners
  const kicked = (protocol: string): number => listeners.find((l: any) => l.protocol === protocol).shutdown_count.kicked
  // still counted as kicked, as EMQ X counts it
  assert.deepEqual([kicked('mqtt:tcp'), kicked('mqtt:ws')], [2, 1])
  // kicking again: not connected
  assert.equal((await n.api('DELETE', '/connections/kick-v5')).status, 404)
})

// 0x8A (Banned) is a CONNACK code only: in a DISCONNECT clients reject it as malformed [MQTT-3.14.2.1]
test('a ban and a session discard send a connected MQTT 5 client DISCONNECT 0x98 (Administrative action)', async (t) => {
  const n = await startTestNode(t)
  const banned = await n.client({ clientId: 'bad-5', protocolVersion: 5 })
  const bye = serverDisconnect(banned)
  const r = await n.api('POST', '/banned', { body: { who: 'bad-5', as: 'client_id', reason: 'test' } })
  assert.equal(r.status, 200)
  assert.equal((await bye)?.reasonCode, 0x98)
  // back while banned: refused in CONNACK, with aedes' v5 equivalent of 3.1.1's 5 (see README)
  await assert.rejects(n.client({ clientId: 'bad-5', protocolVersion: 5 }), (err: { code?: number }) => err.code === 0x87)

  const kept = await n.client({ clientId: 'kept-5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 60 } })
  const discarded = serverDisconnect(kept)
  assert.equal((await n.api('DELETE', '/sessions/kept-5')).status, 200)
  assert.equal((await discarded)?.reasonCode, 0x98)
  await eventually(async () => (await n.api('GET', '/sessions/kept-5')).body.length === 0)
})

test('a retained message published through the API keeps its v5 properties for later v5 subscribers, and expires', async (t) => {
  const n = await startTestNode(t)
  const pub = async (topic: string, properties: object): Promise<void> => {
    assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic, payload: topic, qos: 1, retain: true, properties } })).body, { code: 0 })
  }
  await pub('r/kept', { content_type: 'text/plain', user_properties: { k: 'v' }, message_expiry_interval: 300 })
  await pub('r/brief', { message_expiry_interval: 1 })
  await new Promise(resolve => setTimeout(resolve, 2200))

  const v5 = await n.client({ clientId: 'late-v5', protocolVersion: 5 })
  const got5 = packets(v5)
  await v5.subscribeAsync('r/#', { qos: 1 })
  const v4 = await n.client({ clientId: 'late-v4' })
  const got4 = packets(v4)
  await v4.subscribeAsync('r/#', { qos: 1 })
  await eventually(() => got5.length >= 1 && got4.length >= 1)
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.deepEqual(got5.map(p => p.topic), ['r/kept'])
  assert.equal(got5[0]!.retain, true)
  assert.equal(got5[0]!.properties?.contentType, 'text/plain')
  assert.deepEqual({ ...got5[0]!.properties?.userProperties }, { k: 'v' })
  const left = got5[0]!.properties?.messageExpiryInterval
  assert.ok(left !== undefined && left <= 298, `remaining ${left}`)
  assert.deepEqual(got4.map(p => [p.topic, p.properties]), [['r/kept', undefined]])
})
