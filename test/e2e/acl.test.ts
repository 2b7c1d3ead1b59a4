// MQTT topic authorization end to end: rules made through /api/v3/acl, judged on real mqtt.js
// clients' SUBSCRIBE and PUBLISH, the hot configs acl_nomatch and acl_deny_action, the cache
// endpoint, and the rules surviving a restart (TEST_STORE=mongo runs the same on MongoDB).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { MongoClient } from 'mongodb'
import { startTestNode, testStore, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'
import { granted } from '../support/mqtt.js'

/** Publishes `topics` with QoS 1 from `pub` (each PUBACKed) and says which of them `sub` received. */
async function routed (pub: MqttClient, sub: MqttClient, topics: string[]): Promise<string[]> {
  const got: string[] = []
  const on = (topic: string): void => { got.push(topic) }
  sub.on('message', on)
  for (const t of topics) await pub.publishAsync(t, 'x', { qos: 1 })
  await pub.publishAsync('acl/sentinel', 'end', { qos: 1 })
  await eventually(() => got.includes('acl/sentinel'))
  sub.off('message', on)
  return got.filter(t => t !== 'acl/sentinel')
}

async function rule (n: TestNode, body: unknown): Promise<void> {
  const r = await n.api('POST', '/acl', { body })
  assert.equal(r.status, 200, JSON.stringify(r.body))
}

async function subscriptions (n: TestNode, clientId: string): Promise<string[]> {
  return (await n.api('GET', `/subscriptions/${clientId}`)).body.map((s: any) => s.topic)
}

test('the ACL API: add one or several, list by kind with paging, look up, delete; EMQX v4\'s shapes', async (t) => {
  const n = await startTestNode(t)
  const one = await n.api('POST', '/acl', { body: { clientid: 'c1', topic: 'a/#', action: 'pub', access: 'allow' } })
  assert.deepEqual([one.status, one.body], [200, { clientid: 'c1', topic: 'a/#', action: 'pub', access: 'allow', result: 'ok' }])
  const many = await n.api('POST', '/acl', {
    body: [
      { clientid: 'c1', topic: 'b', action: 'sub', access: 'deny' },
      { clientid: 'c0', topic: 'z', action: 'pubsub', access: 'deny' },
      { username: 'u1', topic: 'users/%u/#', action: 'pubsub', access: 'allow' },
      { ipaddress: '10.1.2.3/8', topic: 'n/#', action: 'pub', access: 'deny' },
      { topic: 'eq #', action: 'sub', access: 'deny' }
    ]
  })
  assert.equal(many.status, 200)
  assert.deepEqual(many.body.map((r: any) => r.ipaddress ?? r.all ?? r.username ?? r.clientid), ['c1', 'c0', 'u1', '10.0.0.0/8', '$all'])
  const clients = await n.api('GET', '/acl/clientid')
  assert.deepEqual(clients.body, {
    items: [
      { clientid: 'c0', topic: 'z', action: 'pubsub', access: 'deny' },
      { clientid: 'c1', topic: 'b', action: 'sub', access: 'deny' },
      { clientid: 'c1', topic: 'a/#', action: 'pub', access: 'allow' }
    ],
    meta: { count: 3, limit: 10000, page: 1, hasnext: false }
  }, 'by client id, then newest first')
  const page2 = await n.api('GET', '/acl/clientid?_page=2&_limit=2')
  assert.deepEqual([page2.body.items.length, page2.body.meta], [1, { count: 3, limit: 2, page: 2, hasnext: false }])
  assert.deepEqual((await n.api('GET', '/acl/username')).body.items, [{ username: 'u1', topic: 'users/%u/#', action: 'pubsub', access: 'allow' }])
  assert.deepEqual((await n.api('GET', '/acl/ipaddress')).body.items, [{ ipaddress: '10.0.0.0/8', topic: 'n/#', action: 'pub', access: 'deny' }])
  assert.deepEqual((await n.api('GET', '/acl/$all')).body.items, [{ all: '$all', topic: 'eq #', action: 'sub', access: 'deny' }])
  assert.deepEqual((await n.api('GET', '/acl/clientid/c1')).body.map((r: any) => r.topic), ['b', 'a/#'])
  assert.deepEqual((await n.api('GET', '/acl/clientid/nobody')).body, [])
  assert.equal((await n.api('GET', '/acl/ipaddress/10.0.0.0%2F8')).body.length, 1)
  assert.equal((await n.api('GET', '/acl/ipaddress/10.9.9.9/8')).body.length, 1, 'a raw / and host bits: found by the normalised range')
  assert.equal((await n.api('DELETE', '/acl/clientid/c1/topic/a%2F%23')).status, 200)
  assert.deepEqual((await n.api('DELETE', '/acl/clientid/c1/topic/a%2F%23')).body, { message: 'acl_not_found', code: 102 })
  assert.equal((await n.api('DELETE', '/acl/username/u1/topic/users%2F%25u%2F%23')).status, 200)
  assert.equal((await n.api('DELETE', '/acl/ipaddress/10.0.0.0/8/topic/n%2F%23')).status, 200)
  assert.equal((await n.api('DELETE', '/acl/$all/topic/eq%20%23')).status, 200)
  assert.equal((await n.api('DELETE', '/acl/$all/topic/eq%20%23')).status, 404)
  assert.deepEqual((await n.api('GET', '/acl/$all')).body.items, [])
})

test('the ACL API refuses bad rules with the catalog\'s codes and stores nothing of a batch with one bad rule', async (t) => {
  const n = await startTestNode(t)
  const bad: Array<[unknown, number]> = [
    [{ topic: 'a/#/b', action: 'pub', access: 'allow' }, 115],
    [{ clientid: 'c', topic: 'a+', action: 'sub', access: 'deny' }, 115],
    [{ ipaddress: '10.0.0.0/33', topic: 'a', action: 'pub', access: 'allow' }, 108],
    [{ ipaddress: 'example.com', topic: 'a', action: 'pub', access: 'allow' }, 108],
    [{ clientid: 'c', username: 'u', topic: 'a', action: 'pub', access: 'allow' }, 108],
    [{ topic: 'a', action: 'publish', access: 'allow' }, 108],
    [{ topic: 'a', action: 'pub', access: 'maybe' }, 108],
    [{ topic: 'a', action: 'pub', access: 'allow', extra: 1 }, 108],
    [{ topic: 'a', action: 'pub' }, 108],
    [[], 108]
  ]
  for (const [body, code] of bad) {
    const r = await n.api('POST', '/acl', { body: Array.isArray(body) ? body : [{ clientid: 'good', topic: 'g', action: 'pub', access: 'allow' }, body] })
    assert.deepEqual([r.status, r.body.code], [400, code], JSON.stringify(body))
  }
  assert.equal((await n.api('GET', '/acl/clientid')).body.meta.count, 0, 'nothing of any batch was stored')
  assert.equal((await n.api('GET', '/acl/ipaddress/not-an-ip')).status, 400)
  assert.equal((await n.api('DELETE', '/acl/ipaddress/10.0.0.300/topic/a')).status, 400)
  assert.equal((await n.api('GET', '/acl/clientid?_page=0')).status, 400)
  assert.equal((await n.api('GET', '/acl/clientid', { auth: null })).status, 401)
})

test('a denied SUBSCRIBE gets 0x80 in SUBACK, is not listed in /subscriptions and receives nothing', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { topic: 'secret/#', action: 'sub', access: 'deny' })
  const c = await n.client({ clientId: 'curious' })
  assert.deepEqual(await granted(c, 'public/#', 'secret/#', 'secret/x'), [1, 128, 128])
  assert.deepEqual(await subscriptions(n, 'curious'), ['public/#'])
  const pub = await n.client({ clientId: 'talker' })
  const got: string[] = []
  c.on('message', (topic) => got.push(topic))
  await pub.publishAsync('secret/x', 'hidden', { qos: 1 })
  await pub.publishAsync('public/x', 'shown', { qos: 1 })
  await eventually(() => got.length > 0)
  assert.deepEqual(got, ['public/x'])
})

test('a denied PUBLISH is acknowledged and routed nowhere', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { clientid: 'muted', topic: 'news/#', action: 'pub', access: 'deny' })
  const sub = await n.client({ clientId: 'reader' })
  await sub.subscribeAsync('#', { qos: 1 })
  const muted = await n.client({ clientId: 'muted' })
  const other = await n.client({ clientId: 'other' })
  assert.deepEqual(await routed(muted, sub, ['news/a', 'weather/a', 'news']), ['weather/a'])
  assert.deepEqual(await routed(other, sub, ['news/a']), ['news/a'], 'the rule is for client id muted only')
  const metrics = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body
  assert.ok(metrics['packets/puback/sent'] >= 5, 'every QoS 1 PUBLISH was acknowledged')
})

test('placeholders: each user publishes only under its own name, each client only under its own id', async (t) => {
  const n = await startTestNode(t)
  await rule(n, [
    { topic: 'users/%u/#', action: 'pubsub', access: 'allow' },
    { topic: 'clients/%c/#', action: 'pubsub', access: 'allow' },
    { topic: 'users/#', action: 'pubsub', access: 'deny' },
    { topic: 'clients/#', action: 'pubsub', access: 'deny' }
  ])
  // the deny rules are newer: the user's own topics need an allow that is newer still
  await rule(n, [{ topic: 'users/%u/#', action: 'pubsub', access: 'allow' }, { topic: 'clients/%c/#', action: 'pubsub', access: 'allow' }])
  const sub = await n.client({ clientId: 'watcher', username: 'root' })
  assert.deepEqual(await granted(sub, 'users/root/#', 'users/alice/#'), [1, 128])
  const all = await n.client({ clientId: 'watcher2' })
  await rule(n, { clientid: 'watcher2', topic: '#', action: 'sub', access: 'allow' })
  await all.subscribeAsync('#', { qos: 1 })
  const alice = await n.client({ clientId: 'c-alice', username: 'alice' })
  assert.deepEqual(await routed(alice, all, ['users/alice/in', 'users/bob/in', 'clients/c-alice/x', 'clients/c-bob/x']), ['users/alice/in', 'clients/c-alice/x'])
  const anonymous = await n.client({ clientId: 'anon' })
  assert.deepEqual(await routed(anonymous, all, ['users/undefined/x', 'users/%u/x', 'clients/anon/x']), ['clients/anon/x'], 'no user name: no %u rule applies')
})

test('IP ranges: a CIDR rule covers the clients from it, an IPv4-mapped form the same; others are not touched', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { ipaddress: '127.0.0.0/8', topic: 'lan/#', action: 'sub', access: 'deny' })
  const c = await n.client({ clientId: 'local' })
  assert.deepEqual(await granted(c, 'lan/x', 'wan/x'), [128, 1])
  await rule(n, { ipaddress: '10.0.0.0/8', topic: 'wan/#', action: 'sub', access: 'deny' })
  assert.deepEqual(await granted(c, 'wan/y'), [1], 'a range that does not hold 127.0.0.1')
  await rule(n, { ipaddress: '::ffff:127.0.0.1', topic: 'wan/#', action: 'sub', access: 'deny' })
  assert.deepEqual(await granted(c, 'wan/z'), [128])
  assert.deepEqual((await n.api('GET', '/acl/ipaddress')).body.items.map((r: any) => r.ipaddress), ['10.0.0.0/8', '127.0.0.0/8', '127.0.0.1/32'])
  const ws = await n.client({ clientId: 'local-ws', ws: true })
  assert.deepEqual(await granted(ws, 'lan/x'), [128], 'over WebSocket too')
})

test('order: client id rules before user name, user name before IP range, IP range before $all, newest first within each', async (t) => {
  const n = await startTestNode(t)
  await rule(n, [
    { topic: 'o/#', action: 'sub', access: 'deny' },
    { ipaddress: '127.0.0.1', topic: 'o/#', action: 'sub', access: 'allow' },
    { username: 'u', topic: 'o/#', action: 'sub', access: 'deny' },
    { clientid: 'vip', topic: 'o/#', action: 'sub', access: 'allow' }
  ])
  const vip = await n.client({ clientId: 'vip', username: 'u' })
  const user = await n.client({ clientId: 'plain', username: 'u' })
  const local = await n.client({ clientId: 'plain2', username: 'v' })
  assert.deepEqual([await granted(vip, 'o/1'), await granted(user, 'o/1'), await granted(local, 'o/1')], [[1], [128], [1]])
  await n.api('DELETE', '/acl/ipaddress/127.0.0.1/topic/o%2F%23')
  assert.deepEqual(await granted(local, 'o/2'), [128], 'without the IP rule, $all decides')
  await rule(n, { username: 'u', topic: 'o/open', action: 'sub', access: 'allow' })
  assert.deepEqual([await granted(user, 'o/open'), await granted(user, 'o/closed')], [[1], [128]], 'the newer rule of a target first')
})

test('acl_nomatch deny refuses what no rule allows, at once for connected clients', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { topic: 'allowed/#', action: 'pubsub', access: 'allow' })
  const c = await n.client({ clientId: 'strict' })
  assert.deepEqual(await granted(c, 'other/x'), [1])
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.acl_nomatch', value: 'deny' } })).status, 200)
  assert.deepEqual(await granted(c, 'other/x', 'allowed/x'), [128, 1], 'the decision cached under allow was dropped')
  const sub = await n.client({ clientId: 'sub2' })
  await rule(n, { clientid: 'sub2', topic: '#', action: 'sub', access: 'allow' })
  await sub.subscribeAsync('#', { qos: 1 })
  await rule(n, { clientid: 'strict', topic: 'acl/sentinel', action: 'pub', access: 'allow' })
  assert.deepEqual(await routed(c, sub, ['other/x', 'allowed/x']), ['allowed/x'])
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.acl_nomatch', value: 'perhaps' } })).status, 400)
  const configs = (await n.api('GET', `/nodes/${n.nodeName}/configs`)).body
  assert.deepEqual(configs.filter((c: any) => c.key.startsWith('mqtt.acl_')).map((c: any) => [c.key, c.value]), [['mqtt.acl_deny_action', 'ignore'], ['mqtt.acl_nomatch', 'deny']])
})

test('acl_deny_action disconnect closes the connection of a client the ACL denies, on PUBLISH and on SUBSCRIBE', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { topic: 'forbidden/#', action: 'pubsub', access: 'deny' })
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.acl_deny_action', value: 'disconnect' } })).status, 200)
  const ok = await n.client({ clientId: 'fine' })
  await ok.subscribeAsync('fine/#')
  for (const act of [(c: MqttClient) => c.publish('forbidden/x', 'x', { qos: 1 }), (c: MqttClient) => c.subscribe('forbidden/#')]) {
    const c = await n.client({ clientId: 'offender' })
    const closed = new Promise<void>(resolve => c.once('close', () => resolve()))
    act(c)
    await closed
  }
  await eventually(async () => (await n.api('GET', '/connections/offender')).body.length === 0)
  const tcp = (await n.api('GET', `/nodes/${n.nodeName}/listeners`)).body.find((l: any) => l.protocol === 'mqtt:tcp')
  assert.equal(tcp.shutdown_count.not_authorized, 2)
  assert.equal(ok.connected, true, 'a client that stays within the rules stays')
})

test('DELETE /connections/{clientid}/acl/{topic} answers for a connected client (404 otherwise); decisions are made again after it', async (t) => {
  const n = await startTestNode(t)
  const c = await n.client({ clientId: 'cached' })
  assert.deepEqual(await granted(c, 'x/1'), [1])
  assert.equal((await n.api('DELETE', '/connections/cached/acl/x%2F1')).body, 'ok')
  assert.equal((await n.api('DELETE', '/connections/cached/acl/%23')).body, 'ok')
  assert.equal((await n.api('DELETE', '/connections/ghost/acl/x%2F1')).status, 404)
  await rule(n, { clientid: 'cached', topic: 'x/1', action: 'sub', access: 'deny' })
  assert.deepEqual(await granted(c, 'x/1'), [128])
})

test('rules survive a restart of the node on the same store', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'emqx-acl-restart-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  // MongoDB: both lives of the node on one database, dropped here at the end
  const env: Record<string, string> = {}
  if (testStore === 'mongo') {
    env.MONGODB_URL = `${(process.env.MONGODB_TEST_URL as string).replace(/\/?$/, '/')}e2e_acl_restart_${process.pid}_${Date.now()}`
    t.after(async () => {
      const client = new MongoClient(env.MONGODB_URL as string)
      await client.db().dropDatabase().finally(async () => { await client.close() })
    })
  }
  await t.test('before the restart', async (t1) => {
    const n = await startTestNode(t1, env, { dataDir })
    await rule(n, [{ username: 'kept', topic: 'k/#', action: 'sub', access: 'deny' }, { ipaddress: '127.0.0.1', topic: 'ip/#', action: 'sub', access: 'deny' }])
  })
  const n = await startTestNode(t, env, { dataDir })
  assert.equal(n.node.store.kind, testStore === 'mongo' ? 'mongo' : 'sqlite')
  assert.deepEqual((await n.api('GET', '/acl/username/kept')).body, [{ username: 'kept', topic: 'k/#', action: 'sub', access: 'deny' }])
  const c = await n.client({ clientId: 'back', username: 'kept' })
  assert.deepEqual(await granted(c, 'k/1', 'ip/1', 'free/1'), [128, 128, 1])
})

test('MQTT 5: a denied SUBSCRIBE gets 0x87, a denied PUBLISH PUBACK/PUBREC 0x87 and is routed nowhere, the client stays; with acl_deny_action disconnect, DISCONNECT 0x87', async (t) => {
  const n = await startTestNode(t)
  await rule(n, { topic: 'secret/#', action: 'pubsub', access: 'deny' })
  const sub = await n.client({ clientId: 'v5-reader' })
  await sub.subscribeAsync('#', { qos: 1 })
  const c = await n.client({ clientId: 'v5-curious', protocolVersion: 5 })
  const acks: Array<[string, number | undefined]> = []
  c.on('packetreceive', (p: any) => { if (['suback', 'puback', 'pubrec'].includes(p.cmd)) acks.push([p.cmd, p.cmd === 'suback' ? p.granted?.[1] : p.reasonCode]) })
  await new Promise<void>(resolve => c.subscribe(['public/#', 'secret/#'], { qos: 1 }, () => resolve()))
  assert.deepEqual(acks.shift(), ['suback', 0x87])
  const got: string[] = []
  sub.on('message', (topic) => got.push(topic))
  // mqtt.js rejects a publish whose acknowledgement carries an error code: the code is what counts
  await c.publishAsync('secret/1', 'x', { qos: 1 }).catch(() => {})
  await c.publishAsync('secret/2', 'x', { qos: 2 }).catch(() => {})
  await c.publishAsync('public/1', 'x', { qos: 1 })
  await eventually(() => got.includes('public/1'))
  assert.deepEqual(acks, [['puback', 0x87], ['pubrec', 0x87], ['puback', 0]])
  assert.deepEqual(got, ['public/1'], 'nothing denied was routed')
  assert.equal(c.connected, true)

  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.acl_deny_action', value: 'disconnect' } })).status, 200)
  const told = new Promise<number | undefined>(resolve => c.once('disconnect', (p: any) => resolve(p.reasonCode)))
  const closed = new Promise<void>(resolve => c.once('close', () => resolve()))
  c.publish('secret/3', 'x', { qos: 1 }, () => {})
  assert.equal(await told, 0x87)
  await closed
  await eventually(async () => ((await n.api('GET', `/nodes/${n.nodeName}/listeners`)).body.find((l: any) => l.protocol === 'mqtt:tcp').shutdown_count.not_authorized ?? 0) === 1)
})
