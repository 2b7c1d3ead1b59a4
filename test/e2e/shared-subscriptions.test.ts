// Shared subscriptions ($share/<group>/<filter>, $queue/<filter>) with real mqtt.js clients: one
// member of each group gets each message, by the hot-configured strategy; nothing acknowledged is lost.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestNode, type TestNode } from '../helpers.js'
import { connectPacket, subscribePacket } from '../support/frames.js'
import { connectCollecting, granted } from '../support/mqtt.js'
import { eventually, sleep } from '../support/wait.js'

/** payloads each client received, in order */
function collect (c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (_t, payload) => { got.push(payload.toString()) })
  return got
}

async function members (n: TestNode, filter: string, count: number, prefix: string, qos: 0 | 1 | 2 = 1): Promise<Array<{ c: MqttClient, got: string[] }>> {
  const out: Array<{ c: MqttClient, got: string[] }> = []
  for (let i = 0; i < count; i++) {
    const c = await n.client({ clientId: `${prefix}${i}` })
    const got = collect(c)
    await c.subscribeAsync(filter, { qos })
    out.push({ c, got })
  }
  return out
}

async function publishAll (pub: MqttClient, topic: string, count: number, qos: 0 | 1 = 1): Promise<string[]> {
  const sent: string[] = []
  for (let i = 0; i < count; i++) {
    sent.push(`m${i}`)
    await pub.publishAsync(topic, `m${i}`, { qos })
  }
  return sent
}

const total = (ms: Array<{ got: string[] }>): string[] => ms.flatMap(m => m.got).sort()

test('$share: each message reaches exactly one of three members; a plain subscriber gets every one; the API shows it', async (t) => {
  const n = await startTestNode(t)
  const group = await members(n, '$share/g1/x/y', 3, 'member')
  const plain = await n.client({ clientId: 'plain' })
  const plainGot = collect(plain)
  await plain.subscribeAsync('x/y', { qos: 1 })
  const pub = await n.client({ clientId: 'pub' })
  const sent = await publishAll(pub, 'x/y', 30)
  await eventually(() => total(group).length >= 30 && plainGot.length >= 30)
  await sleep(200)
  assert.deepEqual(total(group), [...sent].sort(), 'each message once in the group')
  assert.deepEqual(plainGot, sent)
  assert.ok(group.filter(m => m.got.length > 0).length >= 2, 'random spreads over the members')

  assert.deepEqual((await n.api('GET', '/subscriptions/member0')).body.map((s: any) => s.topic), ['$share/g1/x/y'])
  const routes = (await n.api('GET', '/routes/x%2Fy')).body
  assert.equal(routes.length, 1)
  assert.equal((await n.api('GET', '/routes/%24share%2Fg1%2Fx%2Fy')).body.length, 0)
  const stats = (await n.api('GET', '/stats')).body[0]
  assert.equal(stats['subscriptions/shared/count'] ?? stats['subscriptions/shared'], 3)
})

test('strategy round_robin rotates, sticky sticks, hash keeps one publisher on one member; a bad value is 400', async (t) => {
  const n = await startTestNode(t)
  const bad = await n.api('PUT', '/configs/emqx', { body: { key: 'broker.shared_subscription_strategy', value: 'fastest' } })
  assert.equal(bad.status, 400)
  const listed = (await n.api('GET', '/configs')).body[0].config
  assert.equal(listed.find((c: any) => c.key === 'broker.shared_subscription_strategy')?.value, 'random')
  const pub = await n.client({ clientId: 'pub' })
  for (const strategy of ['round_robin', 'sticky', 'hash']) {
    assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'broker.shared_subscription_strategy', value: strategy } })).body, 'ok')
    const group = await members(n, `$share/${strategy}/s/t`, 3, `${strategy}-`)
    const sent = await publishAll(pub, 's/t', 12)
    await eventually(() => total(group).length >= 12)
    await sleep(100)
    assert.deepEqual(total(group), [...sent].sort(), `${strategy}: each message once`)
    const counts = group.map(m => m.got.length).sort()
    if (strategy === 'round_robin') assert.deepEqual(counts, [4, 4, 4], 'round_robin rotates')
    else assert.deepEqual(counts, [0, 0, 12], `${strategy}: one member gets all`)
    for (const m of group) await m.c.endAsync()
  }
})

test('$queue, two groups and a plain subscriber on one topic are independent of one another', async (t) => {
  const n = await startTestNode(t)
  const queue = await members(n, '$queue/q/1', 2, 'queue')
  const a = await members(n, '$share/a/q/1', 2, 'a')
  const b = await members(n, '$share/b/q/+', 1, 'b')
  const plain = await n.client({ clientId: 'plain' })
  const plainGot = collect(plain)
  await plain.subscribeAsync('q/1', { qos: 0 })
  const pub = await n.client({ clientId: 'pub' })
  const sent = await publishAll(pub, 'q/1', 10)
  await eventually(() => total(queue).length >= 10 && total(a).length >= 10 && total(b).length >= 10 && plainGot.length >= 10)
  await sleep(200)
  for (const g of [queue, a, b]) assert.deepEqual(total(g), [...sent].sort())
  assert.deepEqual(plainGot, sent)
  assert.deepEqual((await n.api('GET', '/subscriptions/queue0')).body.map((s: any) => s.topic), ['$queue/q/1'])
})

test('QoS is the member\'s own, capped by the message\'s; retained messages are not sent on a new shared subscription', async (t) => {
  const n = await startTestNode(t)
  const pub = await n.client({ clientId: 'pub' })
  await pub.publishAsync('r/1', 'kept', { qos: 1, retain: true })
  const zero = await n.client({ clientId: 'zero' })
  const qos: number[] = []
  zero.on('message', (_t, _p, packet) => { qos.push(packet.qos) })
  await zero.subscribeAsync('$share/g/r/1', { qos: 0 })
  await sleep(300)
  assert.deepEqual(qos, [], 'no retained message on a shared subscription')
  await pub.publishAsync('r/1', 'live', { qos: 1 })
  await eventually(() => qos.length === 1)
  assert.deepEqual(qos, [0])
})

test('a member that leaves with QoS 1 messages unacknowledged: they go to another member, none is lost', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'broker.shared_subscription_strategy', value: 'round_robin' } })).body, 'ok')
  // never acknowledges: what it received stays in flight
  // a raw client that never acknowledges: what it received stays in flight (mqtt.js 3.1.1 always acknowledges)
  const silentGot: string[] = []
  const silent = net.connect(Number(new URL(n.mqttUrl).port), '127.0.0.1')
  t.after(() => { silent.destroy() })
  const parser = mqttPacket.parser()
  parser.on('packet', (p) => { if (p.cmd === 'publish') silentGot.push(String(p.payload)) })
  silent.on('data', (d) => { parser.parse(d) })
  silent.write(connectPacket('silent', true))
  silent.write(subscribePacket(1, ['$share/w/jobs'], 1))
  await eventually(async () => (await n.api('GET', '/subscriptions/silent')).body.length === 1)
  const [worker] = await members(n, '$share/w/jobs', 1, 'worker') as [{ c: MqttClient, got: string[] }]
  const pub = await n.client({ clientId: 'pub' })
  const sent = await publishAll(pub, 'jobs', 10)
  // mqtt.js reads no further packet while one waits for its acknowledgement: silent holds the rest unread
  await eventually(() => silentGot.length >= 1 && worker.got.length >= 5).catch((e: unknown) => { throw new Error(`worker ${worker.got.join()} silent ${silentGot.join()}: ${String(e)}`) })
  assert.ok(silentGot.length > 0 && worker.got.length < 10)
  silent.destroy()
  await eventually(() => worker.got.length >= 10).catch((e: unknown) => { throw new Error(`worker ${worker.got.join()} silent ${silentGot.join()}: ${String(e)}`) })
  assert.deepEqual([...worker.got].sort(), [...sent].sort())
})

test('a group with no member online: a persistent member\'s session queues the message; otherwise it is dropped and counted', async (t) => {
  const n = await startTestNode(t)
  const p = await n.client({ clientId: 'persist', clean: false })
  await p.subscribeAsync('$share/off/o/1', { qos: 1 })
  await p.endAsync()
  const dropped = async (): Promise<number> => (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body['messages/dropped']
  const before = await dropped()
  const pub = await n.client({ clientId: 'pub' })
  const sent = await publishAll(pub, 'o/1', 3)
  await sleep(200)
  assert.equal(await dropped(), before, 'queued, not dropped')
  const { client: back, received: got } = await connectCollecting(t, n.mqttUrl, { clientId: 'persist', clean: false })
  await eventually(() => got.length >= 3)
  assert.deepEqual(got, sent)
  await back.endAsync()

  // a clean member only: nobody keeps it
  const c = await n.client({ clientId: 'gone' })
  await c.subscribeAsync('$share/clean/d/1', { qos: 1 })
  await c.endAsync()
  const before2 = await dropped()
  await pub.publishAsync('d/1', 'lost', { qos: 1 })
  await eventually(async () => (await dropped()) === before2 + 1)
})

/** one raw SUBSCRIBE (wildcards inside a share name, which mqtt.js will not send) → its SUBACK's return codes */
async function rawSuback (t: TestContext, n: TestNode, clientId: string, clean: boolean, filters: string[]): Promise<{ codes: number[], sock: net.Socket }> {
  const sock = net.connect(Number(new URL(n.mqttUrl).port), '127.0.0.1')
  t.after(() => { sock.destroy() })
  const parser = mqttPacket.parser()
  const codes = new Promise<number[]>((resolve, reject) => {
    parser.on('packet', (p) => { if (p.cmd === 'suback') resolve(p.granted as number[]) })
    sock.once('close', () => { reject(new Error('closed without a SUBACK')) })
  })
  sock.on('data', (d) => { parser.parse(d) })
  sock.write(connectPacket(clientId, clean))
  sock.write(subscribePacket(7, filters, 1))
  return { codes: await codes, sock }
}

test('malformed $share and $queue filters are refused with 0x80 (3.1.1), nothing of them subscribed or stored; the good one beside them works', async (t) => {
  const n = await startTestNode(t)
  const bad = ['$share/', '$share/g', '$share/g/', '$share//x', '$queue/', '$share/g+/x', '$share/#/x', '$share/+/x']
  const { codes, sock } = await rawSuback(t, n, 'raw', false, [...bad, '$share/ok/v/1'])
  assert.deepEqual(codes, [...bad.map(() => 0x80), 1], 'one 0x80 per malformed filter, the valid one granted')
  assert.ok(!sock.destroyed, 'the connection stays')
  // the session (persistent) lists the valid subscription only, before and after a resume
  assert.deepEqual((await n.api('GET', '/subscriptions/raw')).body.map((s: any) => s.topic), ['$share/ok/v/1'])
  sock.destroy()
  await eventually(async () => (await n.api('GET', '/connections/raw')).body.length === 0)
  const back = await n.client({ clientId: 'raw', clean: false })
  const got = collect(back)
  assert.deepEqual((await n.api('GET', '/subscriptions/raw')).body.map((s: any) => s.topic), ['$share/ok/v/1'])
  const pub = await n.client({ clientId: 'pub' })
  await pub.publishAsync('v/1', 'hello', { qos: 1 })
  await eventually(() => got.length === 1)
  // what mqtt.js sends itself: one SUBACK code each, no route made for them
  const c = await n.client({ clientId: 'js' })
  assert.deepEqual(await granted(c, '$share/g', '$share//x', '$queue/', '$share/ok2/w'), [0x80, 0x80, 0x80, 1])
  assert.deepEqual((await n.api('GET', '/subscriptions/js')).body.map((s: any) => s.topic), ['$share/ok2/w'])
  assert.deepEqual((await n.api('GET', '/routes')).body.items.map((r: any) => r.topic).sort(), ['v/1', 'w'], 'routes of the valid ones only')
  // the management API refuses them too (code 115, bad topic), with nothing subscribed
  for (const topic of ['$share/g', '$share/g+/x', '$queue/']) {
    assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic, client_id: 'js', qos: 1 } })).body, { code: 115 }, topic)
  }
  assert.deepEqual((await n.api('GET', '/subscriptions/js')).body.map((s: any) => s.topic), ['$share/ok2/w'])
})

test('the last live member leaves with QoS 1 messages unacknowledged: an offline persistent member\'s session takes them all', async (t) => {
  const n = await startTestNode(t)
  const p = await n.client({ clientId: 'persist', clean: false })
  await p.subscribeAsync('$share/last/l/1', { qos: 1 })
  await p.endAsync()
  const silentGot: string[] = []
  const silent = net.connect(Number(new URL(n.mqttUrl).port), '127.0.0.1')
  t.after(() => { silent.destroy() })
  const parser = mqttPacket.parser()
  parser.on('packet', (pk) => { if (pk.cmd === 'publish') silentGot.push(String(pk.payload)) })
  silent.on('data', (d) => { parser.parse(d) })
  silent.write(connectPacket('silent', true))
  silent.write(subscribePacket(1, ['$share/last/l/1'], 1))
  await eventually(async () => (await n.api('GET', '/subscriptions/silent')).body.length === 1)
  const pub = await n.client({ clientId: 'pub' })
  const sent = await publishAll(pub, 'l/1', 5)
  await eventually(() => silentGot.length >= 5)
  silent.destroy()
  await sleep(500)
  const { received } = await connectCollecting(t, n.mqttUrl, { clientId: 'persist', clean: false })
  await eventually(() => received.length >= 5).catch((e: unknown) => { throw new Error(`got ${received.join()}: ${String(e)}`) })
  assert.deepEqual([...received].sort(), [...sent].sort())
})

test('QoS 2: a member that leaves before its PUBREC has the messages sent to another member, each once', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'broker.shared_subscription_strategy', value: 'round_robin' } })).body, 'ok')
  const silentGot: string[] = []
  const silent = net.connect(Number(new URL(n.mqttUrl).port), '127.0.0.1')
  t.after(() => { silent.destroy() })
  const parser = mqttPacket.parser()
  parser.on('packet', (p) => { if (p.cmd === 'publish') silentGot.push(String(p.payload)) })
  silent.on('data', (d) => { parser.parse(d) })
  silent.write(connectPacket('silent2', true))
  silent.write(subscribePacket(1, ['$share/w2/jobs2'], 2))
  await eventually(async () => (await n.api('GET', '/subscriptions/silent2')).body.length === 1)
  const [worker] = await members(n, '$share/w2/jobs2', 1, 'worker2-', 2) as [{ c: MqttClient, got: string[] }]
  const pub = await n.client({ clientId: 'pub2' })
  const sent: string[] = []
  for (let i = 0; i < 10; i++) {
    sent.push(`q${i}`)
    await pub.publishAsync('jobs2', `q${i}`, { qos: 2 })
  }
  await eventually(() => silentGot.length >= 1 && silentGot.length + worker.got.length >= 10)
  silent.destroy()
  await eventually(() => worker.got.length >= 10).catch((e: unknown) => { throw new Error(`worker ${worker.got.join()} silent ${silentGot.join()}: ${String(e)}`) })
  await sleep(300)
  assert.deepEqual([...worker.got].sort(), [...sent].sort())
})
