// Apps, users, banned, plugins, hot configs and alarms, through the API and against real clients.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

test('apps: create shows the secret once; the app authenticates until disabled or expired', async (t) => {
  const n = await startTestNode(t)
  const created = await n.api('POST', '/apps', { body: { app_id: 'script', name: 'Nightly', desc: 'reads' } })
  assert.equal(created.status, 200)
  const secret = created.body.secret as string
  assert.ok(secret.length >= 16)
  const as = { user: 'script', pass: secret }
  assert.equal((await n.api('GET', '/brokers', { auth: as })).status, 200)
  assert.deepEqual((await n.api('GET', '/apps/script')).body, { app_id: 'script', name: 'Nightly', desc: 'reads', status: true, role: 'administrator' })
  assert.deepEqual((await n.api('GET', '/apps')).body.map((a: any) => a.secret), [undefined])
  assert.equal((await n.api('POST', '/apps', { body: { app_id: 'script' } })).status, 409)
  assert.equal((await n.api('PUT', '/apps/script', { body: { status: false } })).status, 200)
  assert.equal((await n.api('GET', '/brokers', { auth: as })).status, 401)
  assert.equal((await n.api('GET', '/apps/script')).body.name, 'Nightly', 'PUT changes only the fields sent')
  await n.api('PUT', '/apps/script', { body: { status: true, expired: Math.floor(Date.now() / 1000) - 10 } })
  assert.equal((await n.api('GET', '/brokers', { auth: as })).status, 401)
  await n.api('PUT', '/apps/script', { body: { expired: null } })
  assert.equal((await n.api('GET', '/brokers', { auth: as })).status, 200)
  assert.equal((await n.api('GET', '/brokers', { auth: { user: 'script', pass: 'wrong' } })).status, 401)
  assert.equal((await n.api('DELETE', '/apps/script')).status, 200)
  assert.equal((await n.api('DELETE', '/apps/script')).status, 404)
  assert.equal((await n.api('GET', '/apps/script')).status, 404)
  assert.equal((await n.api('GET', '/brokers', { auth: as })).status, 401)
  assert.equal((await n.api('POST', '/apps', { body: { app_id: 'bad id!' } })).status, 400)
  assert.equal((await n.api('PUT', '/apps/nobody', { body: { name: 'x' } })).status, 404)
})

test('users: create, list without passwords, update tags, change password, auth, admin undeletable', async (t) => {
  const n = await startTestNode(t)
  const alarmIds = async (auth = { user: 'admin', pass: 'public' }): Promise<string[]> =>
    (await n.api('GET', `/alarms/${n.nodeName}`, { auth })).body.map((a: any) => a.id)
  assert.deepEqual(await alarmIds(), ['default_admin_password'])
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'pw-1', tags: 'viewer' } })).status, 200)
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops', password: 'other' } })).status, 409)
  assert.deepEqual((await n.api('GET', '/users')).body, [{ username: 'admin', tags: 'administrator', role: 'administrator' }, { username: 'ops', tags: 'viewer', role: 'administrator' }])
  assert.equal((await n.api('PUT', '/users/ops', { body: { tags: 'admin' } })).status, 200)
  assert.equal((await n.api('PUT', '/users/ghost', { body: { tags: 'x' } })).status, 404)
  assert.equal((await n.api('POST', '/auth', { auth: null, body: { username: 'ops', password: 'pw-1' } })).status, 200)
  const wrong = await n.api('POST', '/auth', { auth: null, body: { username: 'ops', password: 'nope' } })
  const unknown = await n.api('POST', '/auth', { auth: null, body: { username: 'ghost', password: 'nope' } })
  assert.deepEqual([wrong.status, wrong.body], [401, { message: 'unauthorized', code: 103 }])
  assert.deepEqual([unknown.status, unknown.body], [wrong.status, wrong.body])
  const bad = await n.api('PUT', '/change_pwd/ops', { body: { old_pwd: 'wrong', new_pwd: 'pw-2' } })
  assert.deepEqual([bad.status, bad.body.code], [400, 114])
  assert.equal((await n.api('GET', '/brokers', { auth: { user: 'ops', pass: 'pw-1' } })).status, 200)
  assert.equal((await n.api('PUT', '/change_pwd/ops', { body: { old_pwd: 'pw-1', new_pwd: 'pw-2' } })).status, 200)
  assert.equal((await n.api('GET', '/brokers', { auth: { user: 'ops', pass: 'pw-1' } })).status, 401)
  assert.equal((await n.api('GET', '/brokers', { auth: { user: 'ops', pass: 'pw-2' } })).status, 200)
  const del = await n.api('DELETE', '/users/admin')
  assert.deepEqual([del.status, del.body.code], [409, 106])
  assert.equal((await n.api('DELETE', '/users/ops')).status, 200)
  assert.equal((await n.api('DELETE', '/users/ops')).status, 404)
  assert.equal((await n.api('PUT', '/change_pwd/admin', { body: { old_pwd: 'public', new_pwd: 'better-one' } })).status, 200)
  assert.deepEqual(await alarmIds({ user: 'admin', pass: 'better-one' }), [])
  assert.equal((await n.api('GET', '/brokers')).status, 401, 'the old default password no longer works')
})

test('banned: a banned client id, username and IP are refused at CONNECT, and admitted after delete', async (t) => {
  const n = await startTestNode(t)
  const live = await n.client({ clientId: 'bad-actor' })
  const kicked = new Promise<void>(resolve => live.once('close', () => resolve()))
  const created = await n.api('POST', '/banned', { body: { who: 'bad-actor', as: 'client_id', reason: 'spam' } })
  assert.deepEqual(created.body, { who: 'bad-actor', as: 'client_id', reason: 'spam', desc: 'undefined', by: 'undefined' })
  await kicked
  await assert.rejects(n.client({ clientId: 'bad-actor' }), /Not authorized|not authorized/i)
  await n.api('POST', '/banned', { body: { who: 'mallory', as: 'username' } })
  await assert.rejects(n.client({ clientId: 'x1', username: 'mallory' }), /authorized/i)
  await n.api('POST', '/banned', { body: { who: '::ffff:127.0.0.1', as: 'ip_address', until: Math.floor(Date.now() / 1000) + 60 } })
  await assert.rejects(n.client({ clientId: 'anyone' }), /authorized/i)
  const list = await n.api('GET', '/banned?_limit=2')
  assert.equal(list.body.meta.count, 3)
  assert.deepEqual(list.body.items.map((b: any) => [b.as, b.who]), [['client_id', 'bad-actor'], ['ip_address', '127.0.0.1']])
  assert.equal((await n.api('DELETE', '/banned/127.0.0.1?as=ip_address')).status, 200)
  assert.equal((await n.api('DELETE', '/banned/127.0.0.1?as=ip_address')).status, 404)
  assert.equal((await n.api('DELETE', '/banned/bad-actor?as=client_id')).status, 200)
  await n.client({ clientId: 'bad-actor' })
  const noAs = await n.api('DELETE', '/banned/mallory')
  assert.deepEqual([noAs.status, noAs.body.code], [400, 107])
  const badAs = await n.api('DELETE', '/banned/mallory?as=nick')
  assert.deepEqual([badAs.status, badAs.body.code], [400, 108])
})

test('banned: bad input is a 400 and writes nothing', async (t) => {
  const n = await startTestNode(t)
  const cases: Array<[unknown, number]> = [
    [{ as: 'client_id' }, 107],
    [{ who: 'x' }, 107],
    [{ who: 'x', as: 'nick' }, 108],
    [{ who: 'not-an-ip', as: 'ip_address' }, 108],
    [{ who: 'x', as: 'client_id', until: 1536146187 }, 108],
    [{ who: 'x', as: 'client_id', until: '2030' }, 108],
    [{ who: { $ne: null }, as: 'client_id' }, 108]
  ]
  for (const [body, code] of cases) {
    const r = await n.api('POST', '/banned', { body })
    assert.deepEqual([r.status, r.body.code], [400, code], JSON.stringify(body))
  }
  assert.equal((await n.api('GET', '/banned')).body.meta.count, 0)
})

test('an expired ban stops applying and leaves the list', async (t) => {
  const n = await startTestNode(t)
  await n.api('POST', '/banned', { body: { who: 'brief', as: 'client_id', until: Math.floor(Date.now() / 1000) + 2 } })
  await assert.rejects(n.client({ clientId: 'brief' }), /authorized/i)
  await eventually(async () => (await n.api('GET', '/banned')).body.meta.count === 0, 5000)
  await n.client({ clientId: 'brief' })
})

test('plugins: load/unload switch state, 409 on repeats, builtins stay, unknown is 404', async (t) => {
  const n = await startTestNode(t)
  const base = `/nodes/${n.nodeName}/plugins`
  const active = async (name: string): Promise<boolean> => (await n.api('GET', base)).body.find((p: any) => p.name === name).active
  assert.equal(await active('emqx_retainer'), true)
  const again = await n.api('PUT', `${base}/emqx_retainer/load`)
  assert.deepEqual([again.status, again.body], [409, { message: 'already_started', code: 110 }])
  assert.equal((await n.api('PUT', `${base}/emqx_retainer/unload`)).body, 'ok')
  assert.equal(await active('emqx_retainer'), false)
  assert.deepEqual((await n.api('PUT', `${base}/emqx_retainer/unload`)).body, { message: 'not_started', code: 111 })
  const pub = await n.client({ clientId: 'retainer-off' })
  await pub.publishAsync('kept/not', 'x', { retain: true, qos: 1 })
  const reader = await n.client({ clientId: 'retainer-reader' })
  let got = 0
  reader.on('message', () => { got++ })
  await reader.subscribeAsync('kept/not')
  await new Promise(resolve => setTimeout(resolve, 150))
  assert.equal(got, 0, 'an unloaded retainer keeps no retained message')
  assert.equal((await n.api('PUT', `${base}/emqx_management/unload`)).status, 409)
  assert.equal((await n.api('PUT', `${base}/emqx_nope/load`)).status, 404)
  assert.equal((await n.api('PUT', '/nodes/ghost@x/plugins/emqx_retainer/load')).status, 404)
})

test('hot configs: mqtt.max_topic_levels applies to the next publish of connected clients', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'lv-sub' })
  await sub.subscribeAsync('#')
  const got: string[] = []
  sub.on('message', (topic) => got.push(topic))
  const pub = await n.client({ clientId: 'lv-pub' })
  await pub.publishAsync('a/b/c', '1', { qos: 1 })
  await eventually(() => got.length === 1)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.max_topic_levels', value: '2' } })).body, 'ok')
  await pub.publishAsync('a/b/c', '2', { qos: 1 })
  await pub.publishAsync('a/b', '3', { qos: 1 })
  await eventually(() => got.length === 2)
  assert.deepEqual(got, ['a/b/c', 'a/b'])
})

test('hot configs: listed, validated, applied at once (mqtt.allow_anonymous)', async (t) => {
  const n = await startTestNode(t)
  const cfg = (await n.api('GET', '/configs')).body[0]
  assert.equal(cfg.node, n.nodeName)
  assert.ok(cfg.config.some((c: any) => c.key === 'retainer.max_payload_size' && c.datatpye === 'bytesize'))
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.allow_anonymous', value: 'maybe' } })).status, 400)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.nope', value: '1' } })).status, 404)
  assert.equal((await n.api('PUT', '/configs/nope', { body: { key: 'mqtt.allow_anonymous', value: 'false' } })).status, 404)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.allow_anonymous', value: 'false' } })).body, 'ok')
  await assert.rejects(n.client({ clientId: 'anon' }), /authorized/i)
  const item = (await n.api('GET', `/nodes/${n.nodeName}/configs`)).body.find((c: any) => c.key === 'mqtt.allow_anonymous')
  assert.equal(item.value, 'false')
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/configs/emqx`, { body: { key: 'mqtt.allow_anonymous', value: 'true' } })).status, 200)
  await n.client({ clientId: 'anon' })
})

test('plugin configs: the retainer\'s max_payload_size applies to the next retained message', async (t) => {
  const n = await startTestNode(t)
  const path = `/nodes/${n.nodeName}/plugin_configs/emqx_retainer`
  assert.ok((await n.api('GET', path)).body.some((c: any) => c.key === 'retainer.max_payload_size'))
  assert.equal((await n.api('PUT', path, { body: { 'retainer.max_payload_size': 'lots' } })).status, 400)
  assert.equal((await n.api('PUT', path, { body: { 'retainer.max_payload_size': '4' } })).body, 'ok')
  await n.api('POST', '/mqtt/publish', { body: { topic: 'big', payload: 'more than four', retain: true } })
  const mq = await n.client({ clientId: 'retain-writer' })
  await mq.publishAsync('big2', 'also too big', { retain: true, qos: 1 })
  await n.api('POST', '/mqtt/publish', { body: { topic: 'small', payload: 'ok', retain: true } })
  const c = await n.client({ clientId: 'reader' })
  const got: string[] = []
  c.on('message', (topic) => got.push(topic))
  await c.subscribeAsync(['big', 'big2', 'small'])
  await eventually(() => got.includes('small'))
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.deepEqual(got, ['small'])
  assert.equal((await n.api('GET', `/nodes/${n.nodeName}/plugin_configs/emqx_nope`)).status, 404)
})
