// MQTT 5 session expiry and will delay across two real nodes (shared MongoDB store, Redis bus): the
// node a client left must not act on a session or will the client took back on the other node.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { IClientOptions, MqttClient } from 'mqtt'
import { sleep, eventually } from '../support/wait.js'
import type { Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { connectCollecting, mqttClient } from '../support/mqtt.js'

const names = ['x1@127.0.0.1', 'x2@127.0.0.1'] as const

const v5 = (t: TestContext, p: Proc, clientId: string, opts: IClientOptions = {}): Promise<MqttClient> =>
  mqttClient(t, p.mqtt, { protocolVersion: 5, clientId, ...opts })

test('a v5 session resumed on the other node outlives the expiry the first node had timed; its queue and subscriptions stay in the store', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'x5exp', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const persistent = { clean: false, properties: { sessionExpiryInterval: 2 } }

  const first = await v5(t, n1, 'exp-1', persistent)
  await first.subscribeAsync('x5/t', { qos: 1 })
  await first.endAsync()
  // back within its 2 s, on the other node
  const { client: second, connack } = await connectCollecting(t, n2.mqtt, { protocolVersion: 5, clientId: 'exp-1', ...persistent })
  assert.equal(connack.sessionPresent, true)
  await sleep(3500) // past the expiry node 1 had timed
  await second.endAsync()

  // the session is still whole in the shared store: a message is queued for it, and it resumes on node 1
  const pub = await v5(t, n2, 'exp-pub')
  await pub.publishAsync('x5/t', 'queued', { qos: 1 })
  const { connack: third, received } = await connectCollecting(t, n1.mqtt, { protocolVersion: 5, clientId: 'exp-1', ...persistent })
  assert.equal(third.sessionPresent, true, 'node 1 did not wipe the session resumed on node 2')
  await eventually(() => received.length === 1, 5000)
  assert.deepEqual(received, ['queued'])
})

test('a delayed will is not published when its client came back in time on the other node; one that did not come back is', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'x5will', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const sub = await v5(t, n2, 'will-sub')
  const wills: string[] = []
  sub.on('message', (_t, payload) => { wills.push(payload.toString()) })
  await sub.subscribeAsync('x5/will/+', { qos: 1 })

  const withWill = (id: string): IClientOptions => ({
    clean: false,
    properties: { sessionExpiryInterval: 30 },
    will: { topic: `x5/will/${id}`, payload: Buffer.from(id), qos: 1, retain: false, properties: { willDelayInterval: 2 } }
  })
  const back = await v5(t, n1, 'will-back', withWill('will-back'))
  const gone = await v5(t, n1, 'will-gone', withWill('will-gone'))
  back.stream.destroy()
  gone.stream.destroy()
  await sleep(300)
  await v5(t, n2, 'will-back', { clean: false, properties: { sessionExpiryInterval: 30 } })

  await eventually(() => wills.includes('will-gone'), 10000)
  await sleep(2500) // well past the delay of both
  assert.deepEqual(wills, ['will-gone'])
})
