// GET /data/export and POST /data/import: a configured node on one store exported, imported into a
// fresh node on the other store, and every check passes there: apps authenticate with their
// secrets, users log in, bans refuse, ACL rules judge (in their order), configs and plugin states apply,
// retained messages arrive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'
import { granted, nextMessage } from '../support/mqtt.js'

const MONGO = process.env.MONGODB_TEST_URL
const mongoEnv = (tag: string): Record<string, string> => MONGO ? { MONGODB_URL: `${MONGO.replace(/\/?$/, '/')}transfer_${tag}_${process.pid}` } : {}

async function configure (n: TestNode): Promise<string> {
  const app = await n.api('POST', '/apps', { body: { app_id: 'moved-app', name: 'Moved' } })
  assert.equal(app.status, 200)
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'ops-pass-1', tags: 'viewer' } })).status, 200)
  assert.equal((await n.api('POST', '/banned', { body: { who: 'evil', as: 'client_id', reason: 'abuse' } })).status, 200)
  // of one client's rules the newest applies first: s/no is denied though s/# allows it
  for (const body of [
    { clientid: 'acl-c', topic: 's/#', action: 'sub', access: 'allow' },
    { clientid: 'acl-c', topic: 's/no', action: 'sub', access: 'deny' },
    [{ topic: 'nobody/#', action: 'sub', access: 'deny' }, { ipaddress: '10.1.2.3', topic: 'x', action: 'pubsub', access: 'deny' }]
  ]) assert.equal((await n.api('POST', '/acl', { body })).status, 200)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.max_topic_levels', value: '3' } })).status, 200)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_delayed_publish/unload`)).status, 200)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_retainer`, { body: { 'retainer.max_payload_size': '64KB' } })).status, 200)
  assert.equal((await n.api('POST', '/mqtt/publish', { body: { topic: 'kept/one', payload: 'hello', qos: 1, retain: true, client_id: 'x' } })).status, 200)
  return app.body.secret as string
}

test('export from one store, import into a fresh node on the other: every check passes there; twice changes nothing', { skip: !MONGO ? 'MONGODB_TEST_URL not set' : process.env.TEST_STORE === 'mongo' ? 'crosses both stores itself (npm test runs it)' : false, timeout: 120000 }, async (t) => {
  for (const [from, to] of [[{}, mongoEnv('a')], [mongoEnv('b'), {}]] as const) {
    const src = await startTestNode(t, { NODE_NAME: 'old@127.0.0.1', ...from })
    const secret = await configure(src)
    const doc = (await src.api('GET', '/data/export')).body
    assert.deepEqual([doc.format, doc.version, doc.node], ['emqx-v3-api-server/export', 1, 'old@127.0.0.1'])
    assert.ok(!JSON.stringify(doc).includes(secret), 'the secret itself is never exported')
    assert.deepEqual(doc.sections.retained, [{ topic: 'kept/one', payload: Buffer.from('hello').toString('base64'), qos: 1 }])

    const dst = await startTestNode(t, { NODE_NAME: 'new@127.0.0.1', ...to })
    assert.notEqual(dst.node.store.kind, src.node.store.kind)
    const dry = await dst.api('POST', '/data/import?dry_run=true', { body: doc })
    assert.equal(dry.status, 200, JSON.stringify(dry.body))
    assert.equal(dry.body.dry_run, true)
    assert.deepEqual(dry.body.sections.apps, { added: ['moved-app'], changed: [], kept: [] })
    assert.deepEqual(dry.body.sections.banned.added, ['client_id:evil'])
    assert.ok(dry.body.sections.configs.changed.includes('emqx:mqtt.max_topic_levels'))
    assert.deepEqual(dry.body.sections.plugins.changed, ['emqx_delayed_publish'])
    assert.deepEqual(dry.body.sections.acl, { added: ['clientid:acl-c sub s/#', 'clientid:acl-c sub s/no', 'all sub nobody/#', 'ipaddress:10.1.2.3/32 pubsub x'], changed: [], kept: [] })
    // a dry run writes nothing
    assert.equal((await dst.api('GET', '/apps/moved-app')).status, 404)

    const done = await dst.api('POST', '/data/import', { body: doc })
    assert.equal(done.status, 200, JSON.stringify(done.body))
    assert.deepEqual(done.body.sections.apps, dry.body.sections.apps)
    // the app's secret and the user's password work here
    assert.equal((await dst.api('GET', '/brokers', { auth: { user: 'moved-app', pass: secret } })).status, 200)
    assert.equal((await dst.api('GET', '/brokers', { auth: { user: 'ops', pass: 'ops-pass-1' } })).status, 200)
    assert.equal((await dst.api('GET', '/brokers', { auth: { user: 'moved-app', pass: 'wrong' } })).status, 401)
    // the ban refuses
    const refused = mqtt.connect(dst.mqttUrl, { clientId: 'evil', reconnectPeriod: 0 })
    const err = await new Promise<Error>(resolve => refused.once('error', resolve))
    assert.match(err.message, /Not authorized/i)
    refused.end(true)
    // the ACL rules judge, newest first
    const judged = await dst.client({ clientId: 'acl-c' })
    assert.deepEqual(await granted(judged, 's/no', 's/yes', 'nobody/x'), [128, 1, 128])
    assert.deepEqual((await dst.api('GET', '/acl/ipaddress/10.1.2.3')).body.map((r: any) => [r.ipaddress, r.topic, r.access]), [['10.1.2.3/32', 'x', 'deny']])
    // configs and plugin states apply
    const cfg = (await dst.api('GET', `/nodes/${dst.nodeName}/configs`)).body.find((c: any) => c.key === 'mqtt.max_topic_levels')
    assert.equal(cfg.value, '3')
    const c = await dst.client({ clientId: 'checker' })
    await assert.rejects(c.publishAsync('a/b/c/d', 'x', { qos: 1 }).then(async () => await eventually(() => c.disconnected, 2000)))
    const plugins = (await dst.api('GET', `/nodes/${dst.nodeName}/plugins`)).body
    assert.equal(plugins.find((p: any) => p.name === 'emqx_delayed_publish').active, false)
    assert.equal((await dst.api('GET', `/nodes/${dst.nodeName}/plugin_configs/emqx_retainer`)).body.find((x: any) => x.key === 'retainer.max_payload_size').value, '64KB')
    // the retained message arrives
    const sub = await dst.client({ clientId: 'retained-reader' })
    const got = nextMessage(sub)
    await sub.subscribeAsync('kept/#')
    assert.deepEqual(await got, { topic: 'kept/one', payload: 'hello', retain: true, qos: 1 })

    // the same document again: everything kept, nothing written
    const again = await dst.api('POST', '/data/import', { body: doc })
    for (const [name, diff] of Object.entries(again.body.sections) as Array<[string, any]>) {
      assert.deepEqual([name, diff.added, diff.changed], [name, [], []])
    }
  }
})

test('a bad document is a 400 that says why, and changes nothing', async (t) => {
  const n = await startTestNode(t)
  const doc = (await n.api('GET', '/data/export')).body
  const newer = await n.api('POST', '/data/import', { body: { ...doc, version: 2 } })
  assert.equal(newer.status, 400)
  assert.match(newer.body.message, /format version 2 is newer than this server's \(1\)/)
  const unknown = await n.api('POST', '/data/import', { body: { ...doc, sections: { ...doc.sections, nonsense: [] } } })
  assert.deepEqual([unknown.status, unknown.body.message], [400, 'import: unknown section "nonsense"'])
  assert.equal((await n.api('POST', '/data/import', { body: { ...doc, format: 'other' } })).status, 400)
  assert.equal((await n.api('POST', '/data/import', { body: { sections: {} } })).status, 400)
  assert.equal((await n.api('POST', '/data/import', { body: { ...doc, sections: { apps: [{ app_id: 'x' }] } } })).status, 400)
  // a good app and a bad config in one document: the app is not written either
  const mixed = {
    ...doc,
    sections: {
      apps: [{ app_id: 'half', name: 'h', desc: '', status: true, expired: null, secret_hash: 'not-a-real-hash' }],
      configs: [{ app: 'emqx', key: 'mqtt.max_topic_levels', value: 'many' }]
    }
  }
  const bad = await n.api('POST', '/data/import', { body: mixed })
  assert.equal(bad.status, 400)
  assert.match(bad.body.message, /mqtt.max_topic_levels/)
  assert.equal((await n.api('GET', '/apps/half')).status, 404)
  // an ACL rule for two targets, or on no topic filter: the 400 names it, the app before it is not written
  for (const [rule, why] of [
    [{ clientid: 'c', username: 'u', topic: 'a', action: 'pub', access: 'allow' }, /acl clientid:c pub a: a rule is for one of clientid, username and ipaddress/],
    [{ topic: 'a/#/b', action: 'sub', access: 'deny' }, /acl all sub a\/#\/b: not a topic filter/]
  ] as const) {
    const r = await n.api('POST', '/data/import', { body: { ...doc, sections: { apps: mixed.sections.apps, acl: [rule] } } })
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.match(r.body.message, why)
    assert.equal((await n.api('GET', '/apps/half')).status, 404)
  }
  assert.deepEqual((await n.api('GET', '/acl/$all')).body.items, [])
  assert.equal((await n.api('POST', '/data/import?dry_run=maybe', { body: doc })).status, 400)
  assert.equal((await n.api('GET', '/data/export', { auth: null })).status, 401)
})
