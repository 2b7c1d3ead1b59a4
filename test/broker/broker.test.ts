import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { startBroker } from '../../src/broker/broker.js'
import { NODE, connect, start } from './helpers.js'
import { until } from '../support/wait.js'
import { connectPacket } from '../support/frames.js'

const localPort = (c: MqttClient): number => (c.stream as unknown as { localPort: number }).localPort

test('a TCP client with username, keepalive 30 and clean=false is listed with those fields and its peer address', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 'c1', username: 'alice', password: 'pw', keepalive: 30, clean: false, will: { topic: 'w/c1', payload: Buffer.from('bye'), qos: 0, retain: false } })
  const conn = b.registry.connection('c1')
  assert.ok(conn)
  assert.equal(conn.username, 'alice')
  assert.equal(conn.keepalive, 30)
  assert.equal(conn.cleanStart, false)
  assert.equal(conn.protoName, 'MQTT')
  assert.equal(conn.protoVer, 4)
  assert.equal(conn.ipaddress, '127.0.0.1')
  assert.equal(conn.port, localPort(c))
  assert.equal(conn.willTopic, 'w/c1')
  assert.equal(conn.listener, 'mqtt:tcp')
  assert.equal(conn.peercert, 'nossl')
  assert.ok(Math.abs(conn.connectedAt - Date.now()) < 5000)
  assert.equal(b.registry.session('c1')?.expiryInterval, 7200)
})

test('an MQTT 3.1 client without username is listed as MQIsdp / 3 with a null username and no will', async (t) => {
  const b = await start(t)
  await connect(t, b, { clientId: 'old', protocolId: 'MQIsdp', protocolVersion: 3 })
  const conn = b.registry.connection('old')
  assert.ok(conn)
  assert.equal(conn.username, null)
  assert.equal(conn.protoName, 'MQIsdp')
  assert.equal(conn.protoVer, 3)
  assert.equal(conn.cleanStart, true)
  assert.equal(conn.willTopic, null)
  assert.equal(b.registry.session('old')?.expiryInterval, 0)
})

test('a WebSocket client is listed on mqtt:ws with the address of its HTTP upgrade request', async (t) => {
  const b = await start(t)
  await connect(t, b, { clientId: 'w1' }, true)
  const conn = b.registry.connection('w1')
  assert.ok(conn)
  assert.equal(conn.listener, 'mqtt:ws')
  assert.equal(conn.ipaddress, '127.0.0.1')
  assert.ok(conn.port > 0 && conn.port !== b.ports.ws)
})

test('connections are sorted by client id and disappear when the client disconnects', async (t) => {
  const b = await start(t)
  await connect(t, b, { clientId: 'b' })
  const a = await connect(t, b, { clientId: 'a' })
  assert.deepEqual(b.registry.connections().map(c => c.clientId), ['a', 'b'])
  await a.endAsync()
  await until(() => b.registry.connectionCount === 1, 'a to leave')
  assert.deepEqual(b.registry.sessions().map(s => s.clientId), ['b'])
})

test('subscriptions and routes appear on SUBSCRIBE, drop on UNSUBSCRIBE and vanish with a clean session', async (t) => {
  const b = await start(t)
  const c1 = await connect(t, b, { clientId: 'c1' })
  const c2 = await connect(t, b, { clientId: 'c2' })
  await c1.subscribeAsync({ 'x/#': { qos: 1 }, 'y/+': { qos: 0 } })
  await c2.subscribeAsync({ 'x/#': { qos: 2 }, '$share/g/z': { qos: 0 } })
  assert.deepEqual(b.registry.subscriptions(), [
    { clientId: 'c1', topic: 'x/#', qos: 1 },
    { clientId: 'c1', topic: 'y/+', qos: 0 },
    { clientId: 'c2', topic: '$share/g/z', qos: 0 },
    { clientId: 'c2', topic: 'x/#', qos: 2 }
  ])
  // a shared subscription routes its real filter, as in EMQ X
  assert.deepEqual(b.registry.routes().map(r => r.topic), ['x/#', 'y/+', 'z'])
  assert.deepEqual(b.registry.routesOf('x/#'), [{ topic: 'x/#', nodes: [NODE] }])
  assert.equal(b.registry.session('c1')?.subscriptionsCount, 2)
  assert.equal(b.metrics.stats()['subscriptions/shared/count'], 1)

  await c1.unsubscribeAsync('y/+')
  assert.deepEqual(b.registry.subscriptionsOf('c1'), [{ clientId: 'c1', topic: 'x/#', qos: 1 }])
  assert.deepEqual(b.registry.routesOf('y/+'), [])

  await c2.endAsync()
  await until(() => b.registry.subscriptionCount === 1, 'c2 subscriptions to go')
  assert.deepEqual(b.registry.routes().map(r => r.topic), ['x/#'])
})

test('an offline persistent session keeps its subscription and counts QoS 1 messages queued while away, back to 0 on reconnect', async (t) => {
  const b = await start(t)
  const opts = { clientId: 'p1', clean: false }
  const c = await connect(t, b, opts)
  await c.subscribeAsync('q/#', { qos: 1 })
  await c.endAsync()
  await until(() => b.registry.session('p1')?.connected === false, 'p1 to go offline')
  assert.deepEqual(b.registry.subscriptionsOf('p1'), [{ clientId: 'p1', topic: 'q/#', qos: 1 }])
  assert.equal(b.registry.routesOf('q/#').length, 1)

  const pub = await connect(t, b, { clientId: 'pub' })
  for (let i = 0; i < 3; i++) await pub.publishAsync('q/a', `m${i}`, { qos: 1 })
  await b.publish({ topic: 'q/b', payload: Buffer.from('api'), qos: 1, retain: false })
  const s = b.registry.session('p1')
  assert.equal(s?.mqueueLen, 4)
  assert.equal(s.enqueueMsg, 4)
  assert.equal(b.metrics.all()['messages/dropped'], 0)

  const got: string[] = []
  const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt}`, { ...opts, reconnectPeriod: 0, manualConnect: false })
  t.after(() => back.endAsync(true))
  back.on('message', (_topic, payload) => got.push(payload.toString()))
  await until(() => got.length === 4, 'the queued messages')
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'api'])
  const resumed = b.registry.session('p1')
  assert.equal(resumed, s)
  assert.equal(resumed?.connected, true)
  assert.equal(resumed.mqueueLen, 0)
  await until(() => resumed.inflightLen === 0, 'PUBACKs')
  assert.equal(resumed.deliverMsg, 4)
})

test('kickout closes the socket at once and is counted as kicked on its listener', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 'k1' })
  const closed = new Promise(resolve => c.stream.once('close', resolve))
  assert.equal(b.kickout('k1'), true)
  await closed
  await until(() => b.registry.connection('k1') === undefined, 'k1 to be gone')
  assert.equal(b.listeners()[0]?.shutdownCount['kicked'], 1)
  assert.equal(b.kickout('k1'), false)
})

test('a second connection with the same client id takes over and the first counts as takeover', async (t) => {
  const b = await start(t)
  await connect(t, b, { clientId: 'dup' })
  const second = await connect(t, b, { clientId: 'dup' })
  await until(() => b.listeners()[0]?.shutdownCount['takeover'] === 1, 'takeover count')
  assert.equal(b.registry.connection('dup')?.port, localPort(second))
  assert.equal(b.registry.connectionCount, 1)
})

test('subscribe on behalf of a client lists the subscription, and the client then receives a matching publish', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 's1' })
  assert.equal(await b.subscribe('nobody', ['a'], 0), false)
  assert.equal(await b.subscribe('s1', ['api/+'], 1), true)
  assert.deepEqual(b.registry.subscriptionsOf('s1'), [{ clientId: 's1', topic: 'api/+', qos: 1 }])
  assert.equal(b.registry.routesOf('api/+').length, 1)
  const got = new Promise<[string, string]>(resolve => c.once('message', (topic, p) => resolve([topic, p.toString()])))
  await b.publish({ topic: 'api/x', payload: Buffer.from('hello'), qos: 1, retain: false })
  assert.deepEqual(await got, ['api/x', 'hello'])

  assert.equal(await b.unsubscribe('s1', ['api/+']), true)
  assert.deepEqual(b.registry.subscriptionsOf('s1'), [])
  assert.deepEqual(b.registry.routes(), [])
})

test('subscribe on behalf of a clean=false client persists: it is restored after reconnect', async (t) => {
  const b = await start(t)
  const c = await connect(t, b, { clientId: 'ps', clean: false })
  await b.subscribe('ps', ['keep/#'], 1)
  await c.endAsync()
  await until(() => b.registry.session('ps')?.connected === false, 'ps offline')
  const again = await connect(t, b, { clientId: 'ps', clean: false })
  assert.equal(again.connected, true)
  const got = new Promise<string>(resolve => again.once('message', (topic) => resolve(topic)))
  await b.publish({ topic: 'keep/1', payload: Buffer.from('x'), qos: 1, retain: false })
  assert.equal(await got, 'keep/1')
  assert.deepEqual(b.registry.subscriptionsOf('ps').map(s => s.topic), ['keep/#'])
})

test('listeners report one entry per listener with current connections', async (t) => {
  const b = await start(t)
  await connect(t, b, { clientId: 't1' })
  await connect(t, b, { clientId: 't2' })
  await connect(t, b, { clientId: 'w1' }, true)
  const ls = b.listeners()
  assert.deepEqual(ls.map(l => [l.protocol, l.listenOn, l.currentConns, l.acceptors]), [
    ['mqtt:tcp', `127.0.0.1:${b.ports.mqtt}`, 2, 1],
    ['mqtt:ws', `127.0.0.1:${b.ports.ws}`, 1, 1]
  ])
  assert.equal(ls[0]?.maxConns, 1024000)
})

test('maxConns refuses the connection above the limit', async (t) => {
  const b = await start(t, { maxConns: 1, wsPort: null })
  await connect(t, b, { clientId: 'first' })
  const second = net.connect(b.ports.mqtt, '127.0.0.1')
  second.on('error', () => {})
  await once(second, 'close')
  assert.equal(b.listeners()[0]?.currentConns, 1)
})

test('an authenticate hook returning 5 refuses with CONNACK 5, counted as not_authorized', async (t) => {
  const seen: string[] = []
  const b = await start(t, {
    hooks: {
      authenticate: async (c, username) => {
        seen.push(`${c.clientId}:${c.ipaddress}:${username ?? ''}`)
        return username === 'ok' ? 0 : 5
      }
    }
  })
  await connect(t, b, { clientId: 'good', username: 'ok' })
  await assert.rejects(mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'bad', username: 'no', reconnectPeriod: 0 }), /Not authorized/)
  await until(() => b.listeners()[0]?.shutdownCount['not_authorized'] === 1, 'not_authorized count')
  assert.deepEqual(seen, ['good:127.0.0.1:ok', 'bad:127.0.0.1:no'])
  assert.deepEqual(b.registry.connections().map(c => c.clientId), ['good'])
})

test('authorizePublish false drops the message silently, the decision is cached per client until cleanAclCache', async (t) => {
  let calls = 0
  let allow = false
  const b = await start(t, { hooks: { authorizePublish: () => { calls++; return allow } } })
  const sub = await connect(t, b, { clientId: 'sub' })
  await sub.subscribeAsync('acl/t', { qos: 1 })
  const got: string[] = []
  sub.on('message', (_topic, p) => got.push(p.toString()))
  const pub = await connect(t, b, { clientId: 'pub' })
  await pub.publishAsync('acl/t', 'denied1', { qos: 1 }) // still PUBACKed
  await pub.publishAsync('acl/t', 'denied2', { qos: 1 })
  assert.equal(calls, 1)
  allow = true
  await pub.publishAsync('acl/t', 'still-cached', { qos: 1 })
  assert.equal(b.cleanAclCache('pub'), true)
  assert.equal(b.cleanAclCache('nobody'), false)
  await pub.publishAsync('acl/t', 'allowed', { qos: 1 })
  await until(() => got.length === 1, 'the allowed message')
  assert.deepEqual(got, ['allowed'])
  assert.equal(calls, 2)
})

test('authorizeSubscribe false: SUBACK 0x80, not subscribed, listed or stored; decisions cached per action; Broker.subscribe is not asked', async (t) => {
  const asked: string[] = []
  const b = await start(t, {
    hooks: {
      authorizeSubscribe: (c, topic) => { asked.push(`${c.clientId}:${topic}`); return !topic.startsWith('secret') },
      authorizePublish: () => true
    }
  })
  const c = await connect(t, b, { clientId: 'keeper', clean: false })
  // mqtt.js reports a 0x80 as an error: read the SUBACK itself
  const suback = new Promise<unknown>(resolve => c.on('packetreceive', p => { if (p.cmd === 'suback') resolve(p.granted) }))
  c.subscribe({ 'open/#': { qos: 1 }, 'secret/#': { qos: 1 } }, () => {})
  assert.deepEqual(await suback, [1, 128])
  assert.deepEqual(b.registry.subscriptionsOf('keeper').map(s => s.topic), ['open/#'])
  const stored = await (b.aedes as { persistence: { subscriptionsByClient: (c: { id: string }) => Promise<Array<{ topic: string }>> } })
    .persistence.subscriptionsByClient({ id: 'keeper' })
  assert.deepEqual(stored.map(s => s.topic), ['open/#'], 'the refused filter of the same SUBSCRIBE is not stored with the granted one')
  const got: string[] = []
  c.on('message', (topic) => got.push(topic))
  await b.publish({ topic: 'secret/x', payload: Buffer.from('x'), qos: 1, retain: false })
  await b.publish({ topic: 'open/x', payload: Buffer.from('x'), qos: 1, retain: false })
  await until(() => got.length === 1, 'the open message')
  assert.deepEqual(got, ['open/x'])
  await assert.rejects(c.subscribeAsync('secret/#', { qos: 0 }))
  assert.deepEqual(asked, ['keeper:open/#', 'keeper:secret/#'], 'the second refusal came from the cache')
  assert.equal(await b.subscribe('keeper', ['secret/api'], 0), true)
  assert.deepEqual(b.registry.subscriptionsOf('keeper').map(s => s.topic), ['open/#', 'secret/api'], 'the management API subscribes on behalf without asking')
  assert.equal(asked.length, 2)
})

test('an authorization hook answering disconnect closes the connection: on SUBSCRIBE without SUBACK, on PUBLISH without PUBACK', async (t) => {
  const b = await start(t, { hooks: { authorizeSubscribe: (_c, topic) => topic === 'bad' ? 'disconnect' : true, authorizePublish: (_c, topic) => topic === 'bad' ? 'disconnect' : true } })
  for (const act of [(c: MqttClient) => c.subscribe('bad'), (c: MqttClient) => c.publish('bad', 'x', { qos: 1 })]) {
    const c = await connect(t, b)
    const closed = new Promise<void>(resolve => c.once('close', () => resolve()))
    act(c)
    await closed
  }
  await until(() => b.listeners()[0]?.shutdownCount['not_authorized'] === 2, 'two not_authorized closes')
})

test('close releases every port, including a connection that never sent CONNECT', async () => {
  const b = await startBroker({ nodeName: NODE, host: '127.0.0.1', mqttPort: 0, wsPort: 0 })
  const { mqtt: port } = b.ports
  const idle = net.connect(port, '127.0.0.1')
  await new Promise(resolve => idle.once('connect', resolve))
  await b.close()
  const again = await startBroker({ nodeName: NODE, host: '127.0.0.1', mqttPort: port, wsPort: null })
  assert.equal(again.ports.mqtt, port)
  await again.close()
})

test('a TLS client with a certificate signed by the listener CA is listed on mqtt:ssl with its CN as peercert', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'broker-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=device-7', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  } catch {
    t.skip('openssl not available')
    return
  }
  const key = readFileSync(join(dir, 'key.pem'), 'utf8')
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  // one self-signed certificate serves as server certificate, CA and client certificate
  const b = await start(t, { wsPort: null, tls: { port: 0, cert, key, ca: cert } })
  assert.ok(b.ports.tls !== null && b.ports.tls > 0)
  const url = `mqtts://127.0.0.1:${b.ports.tls}`
  const anon = await mqtt.connectAsync(url, { clientId: 'anon', rejectUnauthorized: false, reconnectPeriod: 0 })
  const dev = await mqtt.connectAsync(url, { clientId: 'dev', key, cert, rejectUnauthorized: false, reconnectPeriod: 0 })
  t.after(() => Promise.all([anon.endAsync(true), dev.endAsync(true)]))
  assert.equal(b.registry.connection('dev')?.listener, 'mqtt:ssl')
  assert.equal(b.registry.connection('dev')?.peercert, 'device-7')
  assert.equal(b.registry.connection('anon')?.peercert, 'nossl')
  assert.deepEqual(b.listeners().map(l => [l.protocol, l.currentConns]), [['mqtt:tcp', 0], ['mqtt:ssl', 2]])
})

test('a client silent past 1.5 x its keepalive is dropped and counted as keepalive_timeout [MQTT-3.1.2-24]', async (t) => {
  const b = await start(t, { wsPort: null })
  const sock = net.connect(b.ports.mqtt, '127.0.0.1')
  sock.on('error', () => {})
  sock.resume() // read the CONNACK so that the server's FIN surfaces as 'close'
  await once(sock, 'connect')
  // CONNECT, clean, keepalive 1 s, client id 'ka'; then nothing, not even PINGREQ
  sock.write(connectPacket('ka', true, 1))
  await once(sock, 'close')
  await until(() => b.listeners()[0]?.shutdownCount['keepalive_timeout'] === 1, 'keepalive_timeout count')
  assert.equal(b.registry.connection('ka'), undefined)
})
