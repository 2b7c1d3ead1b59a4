// The settings registry: parsing, all-or-nothing writes, key families and secrets stored as hashes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Store } from '../../src/store/store.js'
import { Settings, coreSettings, parseValue, type SettingDef } from '../../src/services/settings.js'
import { verifySecret } from '../../src/services/secrets.js'
import { MemoryKv } from '../support/fakes.js'

const memoryStore = (): Store => ({ kv: new MemoryKv() }) as unknown as Store

const FAMILY: SettingDef[] = [
  { key: 'auth.user.$N.username', app: 'auth', datatype: 'string', datatpye: 'string', desc: '', default: '', pattern: /^auth\.user\.\d+\.username$/ },
  { key: 'auth.user.$N.password', app: 'auth', datatype: 'secret', datatpye: 'string', desc: '', default: '', pattern: /^auth\.user\.\d+\.password$/ }
]

test('parseValue: sizes, durations, percentages, urls and enums; null when invalid', () => {
  assert.equal(parseValue({ datatype: 'bytesize' }, '1KB'), 1024)
  assert.equal(parseValue({ datatype: 'duration' }, '2m'), 120)
  assert.equal(parseValue({ datatype: 'percent' }, '80%'), 0.8)
  assert.equal(parseValue({ datatype: 'percent' }, '0.5'), 0.5)
  assert.equal(parseValue({ datatype: 'percent' }, '0'), null)
  assert.equal(parseValue({ datatype: 'percent' }, '101%'), null)
  assert.equal(parseValue({ datatype: 'integer', min: 1 }, '0'), null)
  assert.equal(parseValue({ datatype: 'url' }, 'https://h:1/x'), 'https://h:1/x')
  assert.equal(parseValue({ datatype: 'url' }, 'file:///etc/passwd'), null)
  assert.equal(parseValue({ datatype: 'enum', values: ['scrypt'] }, 'md5'), null)
})

test('set: a bad value anywhere writes nothing (400); an unknown key is 404', async () => {
  const s = new Settings(memoryStore(), 'n@h', coreSettings(100))
  await assert.rejects(s.set('emqx', { 'mqtt.max_topic_levels': '3', 'mqtt.allow_anonymous': 'maybe' }), (e: any) => e.status === 400)
  assert.equal(s.number('mqtt.max_topic_levels'), 0)
  await assert.rejects(s.set('emqx', { 'mqtt.max_topic_levels': '3', 'mqtt.nope': '1' }), (e: any) => e.status === 404)
  await assert.rejects(s.set('other', { 'mqtt.max_topic_levels': '3' }), (e: any) => e.status === 404)
  assert.equal(s.string('broker.shared_subscription_strategy'), 'random')
  await assert.rejects(s.set('emqx', { 'broker.shared_subscription_strategy': 'fastest' }), (e: any) => e.status === 400)
  await s.set('emqx', { 'broker.shared_subscription_strategy': 'Round_Robin' })
  assert.equal(s.string('broker.shared_subscription_strategy'), 'round_robin')
  assert.equal(s.number('listener.tcp.external.max_connections'), 100)
})

test('key families: entries appear once set, a secret is stored only as its hash, "" removes an entry; values persist', async () => {
  const store = memoryStore()
  const s = new Settings(store, 'n@h', FAMILY)
  const changed: string[] = []
  s.onChange(k => changed.push(k))
  await s.set('auth', { 'auth.user.1.username': 'alice', 'auth.user.1.password': 'pw' })
  const hash = s.entries('auth').get('auth.user.1.password') ?? ''
  assert.ok(await verifySecret(hash, 'pw'))
  assert.ok(!JSON.stringify(await store.kv.all('settings@n@h')).includes('"pw"'))
  await s.set('auth', { 'auth.user.1.password': hash })
  assert.equal(s.entries('auth').get('auth.user.1.password'), hash, 'the shown hash sent back is kept')
  const again = new Settings(store, 'n@h', FAMILY)
  await again.start()
  assert.deepEqual([...again.entries('auth').keys()], ['auth.user.1.password', 'auth.user.1.username'])
  await s.set('auth', { 'auth.user.1.username': '', 'auth.user.1.password': '' })
  assert.equal(s.list('auth').length, 0)
  assert.deepEqual(changed, ['auth.user.1.username', 'auth.user.1.password', 'auth.user.1.username', 'auth.user.1.password'])
})
