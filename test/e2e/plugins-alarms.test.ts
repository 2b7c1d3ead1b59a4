// Resource alarms and the listener/packet-size hot configs, against real clients.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net, { connect } from 'node:net'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

const alarmIds = async (n: TestNode): Promise<string[]> => (await n.api('GET', `/alarms/${n.nodeName}`)).body.map((a: any) => a.id)
const setConfig = async (n: TestNode, key: string, value: string): Promise<number> =>
  (await n.api('PUT', '/configs/emqx', { body: { key, value } })).status

test('high_memory is raised with a tiny sysmon.memory_high_watermark and cleared when it is raised back', async (t) => {
  const n = await startTestNode(t, {}, { node: { alarmCheckMs: 50 } })
  assert.ok(!(await alarmIds(n)).includes('high_memory'))
  assert.equal(await setConfig(n, 'sysmon.memory_high_watermark', '150%'), 400)
  assert.equal(await setConfig(n, 'sysmon.memory_high_watermark', '0'), 400)
  assert.equal(await setConfig(n, 'sysmon.memory_high_watermark', '0.0001'), 200)
  await eventually(async () => (await alarmIds(n)).includes('high_memory'))
  assert.equal(await setConfig(n, 'sysmon.memory_high_watermark', '100%'), 200)
  await eventually(async () => !(await alarmIds(n)).includes('high_memory'))
})

test('listener.tcp.external.max_connections=2: the listener shows it, a third client is refused, and listener_near_max_conns follows the count', async (t) => {
  const n = await startTestNode(t, {}, { node: { alarmCheckMs: 50 } })
  assert.equal(await setConfig(n, 'listener.tcp.external.max_connections', '0'), 400)
  assert.equal(await setConfig(n, 'listener.tcp.external.max_connections', '2'), 200)
  const tcp = (await n.api('GET', `/nodes/${n.nodeName}/listeners`)).body.find((l: any) => l.protocol === 'mqtt:tcp')
  assert.equal(tcp.max_conns, 2)
  const a = await n.client({ clientId: 'm1' })
  assert.ok(!(await alarmIds(n)).includes('listener_near_max_conns'), '1 of 2 is not above 90%')
  await n.client({ clientId: 'm2' })
  await eventually(async () => (await alarmIds(n)).includes('listener_near_max_conns'))
  // a third TCP connection is closed by the listener before any MQTT is spoken
  const third = connect(n.node.ports.mqtt, '127.0.0.1')
  await once(third, 'close')
  await a.endAsync()
  await eventually(async () => !(await alarmIds(n)).includes('listener_near_max_conns'))
})

test('mqtt.max_packet_size=1KB: a larger PUBLISH closes the connection, a smaller one is delivered', async (t) => {
  const n = await startTestNode(t)
  assert.equal(await setConfig(n, 'mqtt.max_packet_size', 'big'), 400)
  assert.equal(await setConfig(n, 'mqtt.max_packet_size', '1KB'), 200)
  const sub = await n.client({ clientId: 'ps-sub' })
  await sub.subscribeAsync('p')
  const got: number[] = []
  sub.on('message', (_t, payload) => got.push(payload.length))
  const pub = await n.client({ clientId: 'ps-pub' })
  await pub.publishAsync('p', Buffer.alloc(900), { qos: 1 })
  const closed = new Promise<void>(resolve => pub.once('close', () => resolve()))
  pub.publish('p', Buffer.alloc(2000), { qos: 0 })
  await closed
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.deepEqual(got, [900])
})

test('listener.tcp.external.nodelay: new MQTT connections get TCP_NODELAY by default (as EMQ X), and not once it is set false', async (t) => {
  const n = await startTestNode(t)
  // which server-side socket (by its peer port) was set to what
  const set = new Map<number, boolean>()
  const setNoDelay = net.Socket.prototype.setNoDelay
  t.mock.method(net.Socket.prototype, 'setNoDelay', function (this: net.Socket, on?: boolean) {
    if (this.localPort === n.node.ports.mqtt) set.set(this.remotePort ?? 0, on ?? true)
    return setNoDelay.call(this, on)
  })
  const portOf = (c: { stream: unknown }): number => (c.stream as net.Socket).localPort ?? -1
  const before = await n.client({ clientId: 'nd1' })
  assert.equal(set.get(portOf(before)), true)
  assert.equal(await setConfig(n, 'listener.tcp.external.nodelay', 'sometimes'), 400)
  assert.equal(await setConfig(n, 'listener.tcp.external.nodelay', 'false'), 200)
  const after = await n.client({ clientId: 'nd2' })
  assert.equal(set.get(portOf(after)), false)
  const item = (await n.api('GET', `/nodes/${n.nodeName}/configs`)).body.find((c: any) => c.key === 'listener.tcp.external.nodelay')
  assert.equal(item?.value, 'false')
})
