// MQTT 5 through the API across two real nodes (one MongoDB database, one Redis bus): a message
// published with v5 properties on one node reaches a v5 subscriber of the other with them; a kickout
// asked of one node sends DISCONNECT 0x98 to a v5 client of the other; a connection is listed with
// its v5 fields from either node. Needs MONGODB_TEST_URL and redis-server; skipped otherwise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IDisconnectPacket, IPublishPacket } from 'mqtt'
import { eventually } from '../support/wait.js'
import { call, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient } from '../support/mqtt.js'

test('v5 properties, fields and DISCONNECT reasons across two nodes', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'mqtt5api', ['a5@127.0.0.1', 'b5@127.0.0.1'])
  const [a, b] = cl.nodes as [Proc, Proc]

  const sub = await mqttClient(t, b.mqtt, { clientId: 'far-v5', protocolVersion: 5, properties: { receiveMaximum: 50 } })
  await sub.subscribeAsync('x/#', { qos: 1 })
  const got: IPublishPacket[] = []
  sub.on('message', (_t, _p, packet) => { got.push(packet) })
  // the subscription is known on the publishing node before it publishes
  await eventually(async () => (await call(a, 'GET', '/routes/x%2F%23')).body.length === 1, 10000)

  const r = await call(a, 'POST', '/mqtt/publish', {
    topic: 'x/1',
    payload: 'over the bus',
    qos: 1,
    properties: { content_type: 'text/plain', correlation_data: 'c-9', user_properties: { hop: 'a5' }, message_expiry_interval: 30, payload_format_indicator: 1 }
  })
  assert.deepEqual(r.body, { code: 0 })
  await eventually(() => got.length === 1, 10000)
  const props = got[0]!.properties!
  assert.equal(props.contentType, 'text/plain')
  assert.equal(Buffer.from(props.correlationData!).toString(), 'c-9')
  assert.deepEqual({ ...props.userProperties }, { hop: 'a5' })
  assert.equal(props.payloadFormatIndicator, true)
  assert.ok(props.messageExpiryInterval !== undefined && props.messageExpiryInterval <= 30)

  const [row] = (await call(a, 'GET', '/connections/far-v5')).body
  assert.deepEqual([row.node, row.proto_ver, row.receive_maximum, row.expiry_interval], ['b5@127.0.0.1', 5, 50, 0])

  const bye = new Promise<IDisconnectPacket>(resolve => { sub.once('disconnect', resolve) })
  assert.equal((await call(a, 'DELETE', '/connections/far-v5')).status, 200)
  assert.equal((await bye).reasonCode, 0x98)
})
