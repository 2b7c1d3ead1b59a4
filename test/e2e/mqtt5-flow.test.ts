// The MQTT 5 limits as an operator sets them on a node: mqtt.server_keepalive (hot config, through the API),
// MQTT_MAX_TOPIC_ALIAS and MQTT_RESPONSE_INFORMATION (environment), mqtt.max_packet_size told in CONNACK, and
// a message too large for a v5 client counted in GET /metrics. The broker-level behaviour of each:
// test/broker/mqtt5-flow.test.ts.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
import { startTestNode, type TestNode } from '../helpers.js'
import { loadConfig, ConfigError } from '../../src/config.js'
import { CLIENT_DEFAULTS } from '../support/mqtt.js'
import { eventually, sleep } from '../support/wait.js'

/** A v5 client and its CONNACK, ended with the test. */
async function v5 (t: TestContext, n: TestNode, opts: IClientOptions): Promise<{ client: MqttClient, connack: IConnackPacket }> {
  const client = mqtt.connect(n.mqttUrl, { ...CLIENT_DEFAULTS, protocolVersion: 5, ...opts })
  t.after(() => client.endAsync(true).catch(() => {}))
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return { client, connack }
}

test('mqtt.server_keepalive: set through the API, the next v5 connection is told it and the API shows it in force; 3.1.1 clients keep theirs; out of range is a 400', async (t) => {
  const n = await startTestNode(t)
  const before = await v5(t, n, { clientId: 'ska-before', keepalive: 300 })
  assert.equal(before.connack.properties?.serverKeepAlive, undefined, 'off by default')

  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.server_keepalive', value: '30' } })).body, 'ok')
  const after = await v5(t, n, { clientId: 'ska-after', keepalive: 300 })
  assert.equal(after.connack.properties?.serverKeepAlive, 30)
  const v3 = await n.client({ clientId: 'ska-v3', keepalive: 300 })
  assert.ok(v3.connected)
  const rows = (await n.api('GET', '/connections')).body.items as Array<{ client_id: string, keepalive: number }>
  const keepalive = (id: string): number | undefined => rows.find(r => r.client_id === id)?.keepalive
  assert.equal(keepalive('ska-after'), 30)
  assert.equal(keepalive('ska-before'), 300, 'a connection keeps what it was told')
  assert.equal(keepalive('ska-v3'), 300)

  for (const value of ['65536', '-1', 'soon']) {
    const res = await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.server_keepalive', value } })
    assert.equal(res.status, 400, value)
    assert.equal(res.body.code, 108)
  }
  const listed = (await n.api('GET', `/nodes/${n.nodeName}/configs`)).body as Array<{ key: string, value: string }>
  assert.equal(listed.find(c => c.key === 'mqtt.server_keepalive')?.value, '30', 'a refused value changes nothing')
})

test('CONNACK to a v5 client: Topic Alias Maximum (MQTT_MAX_TOPIC_ALIAS, default 10), Maximum Packet Size (mqtt.max_packet_size as a whole packet), Response Information (MQTT_RESPONSE_INFORMATION) when asked for', async (t) => {
  const plain = await startTestNode(t)
  const d = await v5(t, plain, { clientId: 'defaults', properties: { requestResponseInformation: true } })
  assert.equal(d.connack.properties?.topicAliasMaximum, 10)
  // 1 MB of remaining length, 1 type byte and 3 length bytes
  assert.equal(d.connack.properties?.maximumPacketSize, 1024 * 1024 + 4)
  assert.equal(d.connack.properties?.responseInformation, undefined, 'none configured')

  const n = await startTestNode(t, { MQTT_MAX_TOPIC_ALIAS: '2', MQTT_RESPONSE_INFORMATION: 'reply/%c' })
  const c = await v5(t, n, { clientId: 'asks', properties: { requestResponseInformation: true } })
  assert.equal(c.connack.properties?.topicAliasMaximum, 2)
  assert.equal(c.connack.properties?.responseInformation, 'reply/asks')
  const quiet = await v5(t, n, { clientId: 'quiet' })
  assert.equal(quiet.connack.properties?.responseInformation, undefined, 'only to a client that asks')
  // the alias works both ways through the node
  const got: string[] = []
  c.client.on('message', (topic, p) => got.push(`${topic}:${p.toString()}`))
  await c.client.subscribeAsync('ta/#', { qos: 1 })
  await c.client.publishAsync('ta/x', 'a', { qos: 1, properties: { topicAlias: 2 } })
  await c.client.publishAsync('', 'b', { qos: 1, properties: { topicAlias: 2 } })
  await eventually(() => got.length === 2)
  assert.deepEqual(got, ['ta/x:a', 'ta/x:b'])
})

test('bad MQTT_MAX_TOPIC_ALIAS, MQTT_MAX_AWAITING_REL and MQTT_RESPONSE_INFORMATION stop the start with one line', () => {
  assert.throws(() => loadConfig({ MQTT_MAX_AWAITING_REL: '0' }), ConfigError)
  assert.throws(() => loadConfig({ MQTT_MAX_AWAITING_REL: '65536' }), ConfigError)
  assert.equal(loadConfig({}).maxAwaitingRel, 1000)
  assert.throws(() => loadConfig({ MQTT_MAX_TOPIC_ALIAS: '65536' }), ConfigError)
  assert.throws(() => loadConfig({ MQTT_MAX_TOPIC_ALIAS: 'many' }), ConfigError)
  assert.throws(() => loadConfig({ MQTT_RESPONSE_INFORMATION: 'reply/#' }), ConfigError)
  assert.equal(loadConfig({ MQTT_MAX_TOPIC_ALIAS: '0' }).maxTopicAlias, 0)
})

test('a message larger than a v5 subscriber accepts is not sent to it and shows in GET /metrics messages/dropped; a 3.1.1 subscriber gets it', async (t) => {
  const n = await startTestNode(t)
  const small = await v5(t, n, { clientId: 'small', properties: { maximumPacketSize: 128 } })
  const gotSmall: number[] = []
  small.client.on('message', (_t, p) => gotSmall.push(p.length))
  await small.client.subscribeAsync('big/t', { qos: 1 })
  const v3 = await n.client({ clientId: 'big-v3' })
  const got3: number[] = []
  v3.on('message', (_t, p) => got3.push(p.length))
  await v3.subscribeAsync('big/t', { qos: 1 })
  const dropped = async (): Promise<number> => (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body['messages/dropped'] as number
  const before = await dropped()
  const pub = await n.client({ clientId: 'big-pub' })
  await pub.publishAsync('big/t', Buffer.alloc(500), { qos: 1 })
  await pub.publishAsync('big/t', Buffer.alloc(50), { qos: 1 })
  await eventually(() => got3.length === 2 && gotSmall.length === 1)
  await sleep(200)
  assert.deepEqual(gotSmall, [50])
  assert.equal(await dropped() - before, 1)
})
