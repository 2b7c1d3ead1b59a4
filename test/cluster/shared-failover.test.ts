// A shared group's member node dies (SIGKILL) holding messages dispatched to its member and not
// acknowledged: a surviving node takes that node's records over and sends them to a member still
// alive, so none is lost. Real node processes, Redis and FerretDB; the doomed member is a raw TCP
// client that never acknowledges (mqtt.js always does).
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import { eventually, sleep } from '../support/wait.js'
import { call, stop, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient } from '../support/mqtt.js'
import { connectPacket, subscribePacket } from '../support/frames.js'

const names = ['f1@127.0.0.1', 'f2@127.0.0.1'] as const

/** a clean-session member that receives and never acknowledges */
async function silentMember (t: TestContext, p: Proc, clientId: string, filter: string): Promise<string[]> {
  return (await silentSocket(t, p, clientId, filter)).got
}

async function silentSocket (t: TestContext, p: Proc, clientId: string, filter: string): Promise<{ got: string[], sock: net.Socket }> {
  const got: string[] = []
  const sock = net.connect(Number(new URL(p.mqtt).port), '127.0.0.1')
  t.after(() => { sock.destroy() })
  const parser = mqttPacket.parser()
  const subacked = new Promise<void>(resolve => {
    parser.on('packet', (pk) => {
      if (pk.cmd === 'suback') resolve()
      if (pk.cmd === 'publish') got.push(String(pk.payload))
    })
  })
  sock.on('data', (d) => { parser.parse(d) })
  sock.on('error', () => {})
  sock.write(connectPacket(clientId, true))
  sock.write(subscribePacket(1, [filter], 1))
  await subacked
  return { got, sock }
}

test('a member\'s node dies with QoS 1 messages unacknowledged: a survivor sends them to another member, none lost, none twice', { skip: SKIP, timeout: 180000 }, async (t) => {
  const cl = await startCluster(t, 'sharedfail', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  assert.equal((await call(n1, 'PUT', '/configs/emqx', { key: 'broker.shared_subscription_strategy', value: 'round_robin' })).body, 'ok')
  await eventually(async () => {
    const all = (await call(n2, 'GET', '/configs')).body as Array<{ config: Array<{ key: string, value: unknown }> }>
    return all.every(n => n.config.find(c => c.key === 'broker.shared_subscription_strategy')?.value === 'round_robin')
  }, 15000)
  const worker = await mqttClient(t, n1.mqtt, { clientId: 'worker' })
  const workerGot: string[] = []
  worker.on('message', (_t, payload) => workerGot.push(payload.toString()))
  await worker.subscribeAsync('$share/d/k/1', { qos: 1 })
  const silentGot = await silentMember(t, n2, 'silent', '$share/d/k/1')
  const pubs: MqttClient[] = [await mqttClient(t, n1.mqtt, { clientId: 'pub-1', reconnectPeriod: 0 }), await mqttClient(t, n2.mqtt, { clientId: 'pub-2', reconnectPeriod: 0 })]
  const sent: string[] = []
  // PUBACKed on both nodes while both live
  for (let i = 0; i < 20; i++) {
    sent.push(`b${i}`)
    await (pubs[i % 2] as MqttClient).publishAsync('k/1', `b${i}`, { qos: 1 })
  }
  await eventually(() => workerGot.length + silentGot.length >= 20, 10000)
  assert.ok(silentGot.length >= 5, `the silent member holds some unacknowledged (${silentGot.length})`)
  await stop(n2, 'SIGKILL')
  // PUBACKed by the survivor before it knows the other node is gone (its member still counts in picks)
  for (let i = 0; i < 10; i++) {
    sent.push(`a${i}`)
    await (pubs[0] as MqttClient).publishAsync('k/1', `a${i}`, { qos: 1 })
  }
  await eventually(() => workerGot.length >= sent.length, 30000).catch((e: unknown) => {
    throw new Error(`worker has ${workerGot.length} of ${sent.length} (missing ${sent.filter(m => !workerGot.includes(m)).join()}): ${String(e)}`)
  })
  await sleep(1500)
  assert.deepEqual([...workerGot].sort(), [...sent].sort(), 'every message on the surviving member, once')
})

test('a member leaves (its node lives) with QoS 1 messages unacknowledged: they go to the group\'s member on another node', { skip: SKIP, timeout: 180000 }, async (t) => {
  const cl = await startCluster(t, 'sharedleave', ['l1@127.0.0.1', 'l2@127.0.0.1'])
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const worker = await mqttClient(t, n1.mqtt, { clientId: 'worker' })
  const workerGot: string[] = []
  worker.on('message', (_t, payload) => workerGot.push(payload.toString()))
  await worker.subscribeAsync('$share/e/q/1', { qos: 1 })
  const { got: silentGot, sock } = await silentSocket(t, n2, 'silent', '$share/e/q/1')
  const pub = await mqttClient(t, n2.mqtt, { clientId: 'pub' })
  const sent: string[] = []
  for (let i = 0; i < 30; i++) {
    sent.push(`m${i}`)
    await pub.publishAsync('q/1', `m${i}`, { qos: 1 })
  }
  await eventually(() => workerGot.length + silentGot.length >= 30, 10000)
  assert.ok(silentGot.length > 0, 'random gave the silent member some')
  sock.destroy()
  await eventually(() => workerGot.length >= 30, 15000).catch((e: unknown) => {
    throw new Error(`worker has ${workerGot.length} (missing ${sent.filter(m => !workerGot.includes(m)).join()}): ${String(e)}`)
  })
  await sleep(1000)
  assert.deepEqual([...workerGot].sort(), [...sent].sort(), 'every message on the member left, once')
})

test('no member of the group online anywhere: the offline persistent member\'s session queues the messages (on another node than the publisher\'s), and it gets them resuming on either', { skip: SKIP, timeout: 180000 }, async (t) => {
  const cl = await startCluster(t, 'sharedoff', ['o1@127.0.0.1', 'o2@127.0.0.1'])
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const p = await mqttClient(t, n2.mqtt, { clientId: 'persist', clean: false })
  await p.subscribeAsync('$share/o/p/1', { qos: 1 })
  await p.endAsync()
  const gone = await mqttClient(t, n1.mqtt, { clientId: 'gone' })
  await gone.subscribeAsync('$share/o/p/1', { qos: 1 })
  await gone.endAsync()
  await sleep(300)
  const pub = await mqttClient(t, n1.mqtt, { clientId: 'pub' })
  const sent: string[] = []
  for (let i = 0; i < 5; i++) {
    sent.push(`o${i}`)
    await pub.publishAsync('p/1', `o${i}`, { qos: 1 })
  }
  await sleep(1000)
  const back = await mqttClient(t, n1.mqtt, { clientId: 'persist', clean: false })
  const got: string[] = []
  back.on('message', (_t, payload) => got.push(payload.toString()))
  await eventually(() => got.length >= 5, 10000).catch((e: unknown) => { throw new Error(`got ${got.join()}: ${String(e)}`) })
  await sleep(500)
  assert.deepEqual([...got].sort(), [...sent].sort(), 'each queued once in the session')
})
