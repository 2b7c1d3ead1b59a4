// ACL rules in a cluster: a rule made through one node's API judges the very next PUBLISH or
// SUBSCRIBE of a client connected to another node, whose earlier decisions were cached.
// Needs MONGODB_TEST_URL (FerretDB: scripts/ferretdb.sh) and redis-server on PATH; skipped otherwise.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { eventually } from '../support/wait.js'
import { granted, mqttClient } from '../support/mqtt.js'
import { call, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'

const names = ['a1@127.0.0.1', 'a2@127.0.0.1'] as const

const client = async (t: TestContext, p: Proc, clientId: string): Promise<MqttClient> => await mqttClient(t, p.mqtt, { clientId })

test('a rule change on one node takes effect at once for a connected client on another', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'acl', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const reader = await client(t, n1, 'reader')
  await reader.subscribeAsync('t/#', { qos: 1 })
  const got: string[] = []
  reader.on('message', (_topic, payload) => got.push(payload.toString()))
  const writer = await client(t, n2, 'writer')
  // decisions cached on n2 before the rule exists
  await writer.publishAsync('t/1', 'before', { qos: 1 })
  assert.deepEqual(await granted(writer, 'w/1'), [1])
  await eventually(() => got.length === 1)

  assert.equal((await call(n1, 'POST', '/acl', [
    { clientid: 'writer', topic: 't/#', action: 'pub', access: 'deny' },
    { clientid: 'writer', topic: 'w/#', action: 'sub', access: 'deny' }
  ])).status, 200)
  // no wait: the POST answered after the peers were told
  await writer.publishAsync('t/1', 'denied', { qos: 1 })
  assert.deepEqual(await granted(writer, 'w/1'), [128])
  await writer.publishAsync('t/2', 'denied too', { qos: 1 })
  assert.deepEqual((await call(n2, 'GET', '/acl/clientid/writer')).body.map((r: any) => r.topic), ['w/#', 't/#'], 'the shared store lists it on every node')

  assert.equal((await call(n2, 'DELETE', '/acl/clientid/writer/topic/t%2F%23')).status, 200)
  await writer.publishAsync('t/3', 'after', { qos: 1 })
  await eventually(() => got.includes('after'))
  assert.deepEqual(got, ['before', 'after'], 'nothing was routed while the rule stood')
  assert.deepEqual(await granted(writer, 'w/2'), [128], 'the other rule stands')
  assert.equal((await call(n1, 'DELETE', '/acl/clientid/writer/topic/w%2F%23')).status, 200)
  assert.deepEqual(await granted(writer, 'w/2'), [1])
})
