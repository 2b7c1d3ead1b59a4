// emqx_auth_username and emqx_auth_clientid: CONNECT against credentials kept only as salted hashes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'

test('auth_username: a listed user needs the right password (else CONNACK 4); an unlisted one gets in only while allow_anonymous', async (t) => {
  const n = await startTestNode(t)
  const path = `/nodes/${n.nodeName}/plugin_configs/emqx_auth_username`
  assert.equal((await n.api('PUT', path, { body: { 'auth.user.1.username': 'alice', 'auth.user.1.password': 's3cret' } })).body, 'ok')
  await n.client({ clientId: 'a0', username: 'alice', password: 'wrong' }) // not loaded: checks nothing
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_auth_username/load`)).body, 'ok')
  await n.client({ clientId: 'a1', username: 'alice', password: 's3cret' })
  await assert.rejects(n.client({ clientId: 'a2', username: 'alice', password: 'wrong' }), /bad user ?name or password/i)
  await assert.rejects(n.client({ clientId: 'a3', username: 'alice' }), /bad user ?name or password/i)
  await n.client({ clientId: 'b1', username: 'bob', password: 'anything' })
  await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.allow_anonymous', value: 'false' } })
  await assert.rejects(n.client({ clientId: 'b2', username: 'bob', password: 'anything' }), /not authorized/i)
  await n.client({ clientId: 'a4', username: 'alice', password: 's3cret' })
})

test('auth_username configs: GET shows a salted hash, never the password; PUT validates all before writing', async (t) => {
  const n = await startTestNode(t)
  const path = `/nodes/${n.nodeName}/plugin_configs/emqx_auth_username`
  await n.api('PUT', path, { body: { 'auth.user.1.username': 'alice', 'auth.user.1.password': 's3cret' } })
  const items = (await n.api('GET', path)).body as Array<{ key: string, value: string }>
  assert.deepEqual(items.map(i => i.key), ['auth.user.1.password', 'auth.user.1.username', 'auth.user.password_hash'])
  const hash = items.find(i => i.key === 'auth.user.1.password')?.value ?? ''
  assert.match(hash, /^scrypt\$/)
  const everywhere = JSON.stringify([items, (await n.api('GET', '/configs')).body])
  assert.ok(!everywhere.includes('s3cret'))
  assert.equal((await n.api('PUT', path, { body: { 'auth.user.2.username': 'carol', 'auth.user.password_hash': 'md5' } })).status, 400)
  assert.equal((await n.api('PUT', path, { body: { 'auth.user.2.username': 'carol', 'auth.user.x.password': 'p' } })).status, 404)
  assert.equal((await n.api('PUT', path, { body: { 'auth.client.1.clientid': 'c' } })).status, 404, 'another plugin\'s key')
  assert.ok(!(await n.api('GET', path)).body.some((i: any) => i.key === 'auth.user.2.username'), 'nothing written')
  // sending back the hash as shown keeps the password
  await n.api('PUT', path, { body: { 'auth.user.1.username': 'alice', 'auth.user.1.password': hash } })
  await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_auth_username/load`)
  await n.client({ clientId: 'a1', username: 'alice', password: 's3cret' })
  // an empty value removes the entry: alice is unlisted again, so any password gets in
  await n.api('PUT', path, { body: { 'auth.user.1.username': '', 'auth.user.1.password': '' } })
  assert.deepEqual((await n.api('GET', path)).body.map((i: any) => i.key), ['auth.user.password_hash'])
  await n.client({ clientId: 'a2', username: 'alice', password: 'whatever' })
})

test('auth_clientid: a listed client id needs its password (else CONNACK 4); GET shows only the hash', async (t) => {
  const n = await startTestNode(t)
  const path = `/nodes/${n.nodeName}/plugin_configs/emqx_auth_clientid`
  await n.api('PUT', path, { body: { 'auth.client.1.clientid': 'sensor-1', 'auth.client.1.password': 'pw-1' } })
  const items = (await n.api('GET', path)).body as Array<{ key: string, value: string }>
  assert.ok(!JSON.stringify(items).includes('pw-1'))
  assert.match(items.find(i => i.key === 'auth.client.1.password')?.value ?? '', /^scrypt\$/)
  await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_auth_clientid/load`)
  await n.client({ clientId: 'sensor-1', username: 'any', password: 'pw-1' })
  await assert.rejects(n.client({ clientId: 'sensor-1', username: 'any', password: 'nope' }), /bad user ?name or password/i)
  await n.client({ clientId: 'sensor-2' })
  await n.api('PUT', '/configs/emqx', { body: { key: 'mqtt.allow_anonymous', value: 'false' } })
  await assert.rejects(n.client({ clientId: 'sensor-2' }), /not authorized/i)
  await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_auth_clientid/unload`)
  await assert.rejects(n.client({ clientId: 'sensor-1', username: 'any', password: 'pw-1' }), /not authorized/i, 'unloaded: nobody is authenticated by it')
})
