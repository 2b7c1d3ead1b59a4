// The ACL engine: evaluation order, placeholders, IP ranges (IPv4-mapped IPv6 too), eq topics,
// acl_nomatch, validation, and that a change tells the broker to drop cached decisions; on a real
// embedded store.
import { test, type TestContext } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import type { Store } from '../../src/store/store.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { AclService, parseRange, type AclClient, type AclInput } from '../../src/services/acl.js'
import { Settings, coreSettings } from '../../src/services/settings.js'
import { eventually } from '../support/wait.js'

/** The engine on a real embedded store in a temporary directory, removed when the test ends. */
async function engine (t: TestContext, rules: AclInput[] = []): Promise<{ acl: AclService, settings: Settings, changes: () => number, store: Store }> {
  const dir = mkdtempSync(join(tmpdir(), 'emqx-acl-unit-'))
  const store = new SqliteStore({ dataDir: dir })
  await store.init()
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) })
  const settings = new Settings(store, 'n@h', coreSettings(100))
  await settings.start()
  let changes = 0
  const acl = new AclService(store, settings, () => { changes++ })
  await acl.start()
  t.after(() => { acl.stop() })
  if (rules.length > 0) await acl.add(rules)
  return { acl, settings, changes: () => changes, store }
}

const client = (clientId: string, username: string | null = null, ipaddress = '127.0.0.1'): AclClient => ({ clientId, username, ipaddress })

test('no rules: everything is allowed (acl_nomatch allow, EMQ X\'s default); acl_nomatch deny refuses it', async (t) => {
  const { acl, settings } = await engine(t)
  assert.equal(acl.check(client('c'), 'pub', 'a/b'), true)
  await settings.set('emqx', { 'mqtt.acl_nomatch': 'deny' })
  assert.equal(acl.check(client('c'), 'pub', 'a/b'), false)
  assert.equal(acl.check(client('c'), 'sub', '#'), false)
})

test('order: client id rules, then user name, then IP range, then all; a client\'s first covering rule decides', async (t) => {
  const { acl } = await engine(t, [
    { topic: 't/#', action: 'pubsub', access: 'deny' },
    { ipaddress: '10.0.0.0/8', topic: 't/#', action: 'pubsub', access: 'allow' },
    { username: 'u', topic: 't/#', action: 'pubsub', access: 'deny' },
    { clientid: 'c', topic: 't/#', action: 'pubsub', access: 'allow' }
  ])
  assert.equal(acl.check(client('c', 'u', '192.168.0.1'), 'pub', 't/1'), true, 'client id first')
  assert.equal(acl.check(client('other', 'u', '10.1.1.1'), 'pub', 't/1'), false, 'user name before IP')
  assert.equal(acl.check(client('other', null, '10.1.1.1'), 'pub', 't/1'), true, 'IP before all')
  assert.equal(acl.check(client('other', 'v', '192.168.0.1'), 'pub', 't/1'), false, 'all last')
  assert.equal(acl.check(client('other', 'v', '192.168.0.1'), 'pub', 'elsewhere'), true, 'no rule covers it: nomatch')
})

test('within a target the most recently added rule comes first, also within one batch', async (t) => {
  const { acl } = await engine(t, [
    { username: 'u', topic: 'a/#', action: 'pub', access: 'allow' },
    { username: 'u', topic: 'a/secret', action: 'pub', access: 'deny' }
  ])
  assert.equal(acl.check(client('c', 'u'), 'pub', 'a/secret'), false)
  assert.equal(acl.check(client('c', 'u'), 'pub', 'a/open'), true)
  await acl.add([{ username: 'u', topic: 'a/#', action: 'pub', access: 'allow' }])
  assert.equal(acl.check(client('c', 'u'), 'pub', 'a/secret'), true, 're-adding a/# made it the newest')
})

test('actions: pub covers PUBLISH only, sub SUBSCRIBE only, pubsub both', async (t) => {
  const { acl } = await engine(t, [
    { topic: 'p', action: 'pub', access: 'deny' },
    { topic: 's', action: 'sub', access: 'deny' },
    { topic: 'b', action: 'pubsub', access: 'deny' }
  ])
  const c = client('c')
  assert.deepEqual(['p', 's', 'b'].map(t => [acl.check(c, 'pub', t), acl.check(c, 'sub', t)]), [[false, true], [true, false], [false, false]])
})

test('placeholders %u and %c are whole levels, taken literally, and %u never applies without a user name', async (t) => {
  const { acl, settings } = await engine(t, [
    { topic: 'users/%u/#', action: 'pubsub', access: 'allow' },
    { topic: 'clients/%c', action: 'pub', access: 'allow' },
    { topic: 'x%c', action: 'pub', access: 'allow' }
  ])
  await settings.set('emqx', { 'mqtt.acl_nomatch': 'deny' })
  assert.equal(acl.check(client('c1', 'alice'), 'sub', 'users/alice/#'), true)
  assert.equal(acl.check(client('c1', 'alice'), 'pub', 'users/alice/in/box'), true)
  assert.equal(acl.check(client('c1', 'alice'), 'pub', 'users/bob/in'), false)
  assert.equal(acl.check(client('c1', 'alice'), 'sub', 'users/+/in'), false, 'a wildcard in a subscription is not the user name')
  assert.equal(acl.check(client('c1', '#'), 'sub', 'users/bob'), false, 'a user named # gets no wildcard')
  assert.equal(acl.check(client('c1', '#'), 'sub', 'users/#'), true)
  assert.equal(acl.check(client('a/b', null), 'pub', 'clients/a/b'), true, 'a client id with / spans its levels')
  assert.equal(acl.check(client('c1', null), 'pub', 'users/%u'), false, 'no user name: the %u rule does not apply')
  assert.equal(acl.check(client('c1', null), 'pub', 'clients/c1'), true)
  assert.equal(acl.check(client('c1', null), 'pub', 'xc1'), false, 'placeholders only as whole levels')
  assert.equal(acl.check(client('c1', null), 'pub', 'x%c'), true)
})

test('wildcards: + one level, # the rest and its parent; a rule starting with a wildcard does not reach $-topics', async (t) => {
  const { acl, settings } = await engine(t, [{ topic: 'a/+/c', action: 'pubsub', access: 'allow' }, { topic: 'h/#', action: 'pubsub', access: 'allow' }, { username: 'w', topic: '#', action: 'sub', access: 'allow' }])
  await settings.set('emqx', { 'mqtt.acl_nomatch': 'deny' })
  const c = client('c')
  assert.deepEqual(['a/b/c', 'a/b/c/d', 'a/c', 'h', 'h/x/y', 'hh'].map(t => acl.check(c, 'pub', t)), [true, false, false, true, true, false])
  assert.equal(acl.check(c, 'sub', 'a/+/#'), false, 'the filter a/+/# subscribes to more than a/+/c')
  assert.equal(acl.check(c, 'sub', 'a/+/c'), true)
  assert.equal(acl.check(client('c', 'w'), 'sub', 'anything/#'), true)
  assert.equal(acl.check(client('c', 'w'), 'sub', '$SYS/brokers'), false)
})

test('eq matches one exact filter: deny subscribing to # itself, not to what it covers', async (t) => {
  const { acl } = await engine(t, [{ topic: 'eq #', action: 'sub', access: 'deny' }, { topic: 'eq a/+', action: 'sub', access: 'deny' }])
  const c = client('c')
  assert.equal(acl.check(c, 'sub', '#'), false)
  assert.equal(acl.check(c, 'sub', 'a/#'), true)
  assert.equal(acl.check(c, 'sub', 'a/+'), false)
  assert.equal(acl.check(c, 'sub', 'a/b'), true)
})

test('IP ranges: CIDR and single addresses, v4 and v6, and IPv4-mapped IPv6 on either side', async (t) => {
  const { acl } = await engine(t, [
    { ipaddress: '10.0.0.0/8', topic: 'v4', action: 'pub', access: 'deny' },
    { ipaddress: '192.168.1.7', topic: 'one', action: 'pub', access: 'deny' },
    { ipaddress: '2001:db8::/32', topic: 'v6', action: 'pub', access: 'deny' },
    { ipaddress: '::ffff:172.16.0.0/108', topic: 'mapped', action: 'pub', access: 'deny' }
  ])
  assert.equal(acl.check(client('c', null, '10.20.30.40'), 'pub', 'v4'), false)
  assert.equal(acl.check(client('c', null, '::ffff:10.20.30.40'), 'pub', 'v4'), false, 'a mapped client address is its IPv4 address')
  assert.equal(acl.check(client('c', null, '11.0.0.1'), 'pub', 'v4'), true)
  assert.equal(acl.check(client('c', null, '192.168.1.7'), 'pub', 'one'), false)
  assert.equal(acl.check(client('c', null, '192.168.1.8'), 'pub', 'one'), true)
  assert.equal(acl.check(client('c', null, '2001:db8:1::5'), 'pub', 'v6'), false)
  assert.equal(acl.check(client('c', null, '2001:db9::5'), 'pub', 'v6'), true)
  assert.equal(acl.check(client('c', null, '172.16.5.5'), 'pub', 'mapped'), false, 'a mapped range is its IPv4 range (172.16.0.0/12)')
  assert.equal(acl.check(client('c', null, 'not-an-ip'), 'pub', 'v4'), true, 'no address: IP rules do not apply')
  assert.deepEqual((await acl.list('ipaddress')).map(r => r.who).sort(), ['10.0.0.0/8', '172.16.0.0/12', '192.168.1.7/32', '2001:db8::/32'])
})

test('parseRange normalises, and refuses what is not an address or network', () => {
  assert.equal(parseRange('10.1.2.3/8')?.text, '10.0.0.0/8')
  assert.equal(parseRange('2001:DB8::1')?.text, '2001:db8::1/128')
  assert.equal(parseRange('::ffff:10.0.0.1')?.text, '10.0.0.1/32')
  for (const bad of ['10.0.0/8', '10.0.0.0/33', '0x0a.0.0.1', '10.0.0.1/', '10.0.0.1/8/8', '::1/129', 'fe80::1%eth0', '::ffff:10.0.0.0/95', 'host', '']) {
    assert.equal(parseRange(bad), null, bad)
  }
})

test('add validates every rule first: a bad one anywhere stores none (400 with the catalog\'s codes)', async (t) => {
  const { acl, changes } = await engine(t)
  const good: AclInput = { clientid: 'c', topic: 'a', action: 'pub', access: 'allow' }
  const cases: Array<[AclInput, number]> = [
    [{ topic: 'a/#/b', action: 'pub', access: 'allow' }, 115],
    [{ topic: 'a+', action: 'pub', access: 'allow' }, 115],
    [{ topic: 'eq ', action: 'pub', access: 'allow' }, 115],
    [{ ipaddress: '10.0.0.0/40', topic: 'a', action: 'pub', access: 'allow' }, 108],
    [{ clientid: 'c', username: 'u', topic: 'a', action: 'pub', access: 'allow' }, 108],
    [{ topic: 'a', action: 'publish' as 'pub', access: 'allow' }, 108],
    [{ topic: 'a', action: 'pub', access: 'maybe' as 'allow' }, 108]
  ]
  for (const [bad, code] of cases) {
    await assert.rejects(acl.add([good, bad]), (e: any) => e.status === 400 && e.code === code, JSON.stringify(bad))
  }
  assert.deepEqual(await acl.list('clientid'), [])
  assert.equal(changes(), 0)
})

test('delete removes a target\'s rules on a topic (false when there were none), and every change is reported', async (t) => {
  const { acl, settings, changes } = await engine(t)
  await settings.set('emqx', { 'mqtt.acl_nomatch': 'deny' })
  await acl.add([{ ipaddress: '10.0.0.1', topic: 't', action: 'pub', access: 'allow' }, { ipaddress: '10.0.0.1', topic: 't', action: 'sub', access: 'allow' }])
  assert.equal(changes(), 1)
  assert.equal(acl.check(client('c', null, '10.0.0.1'), 'pub', 't'), true)
  assert.equal(await acl.delete('ipaddress', '10.0.0.1/32', 't'), true, 'found by its normalised form')
  assert.equal(changes(), 2)
  assert.equal(acl.check(client('c', null, '10.0.0.1'), 'pub', 't'), false)
  assert.equal(await acl.delete('ipaddress', '10.0.0.1', 't'), false)
  assert.equal(changes(), 2, 'nothing changed, nothing reported')
  await assert.rejects(acl.delete('ipaddress', '10.0.0.300', 't'), (e: any) => e.status === 400)
})

test('a change stored while the rules cannot be re-read is still applied: the re-read is retried', async (t) => {
  const { acl, settings, store } = await engine(t)
  await settings.set('emqx', { 'mqtt.acl_nomatch': 'deny' })
  const list = store.acl.list
  let failures = 1
  store.acl.list = async (kind) => {
    if (failures-- > 0) throw new Error('store_unavailable')
    return await list(kind)
  }
  await assert.rejects(acl.add([{ topic: 'late', action: 'pub', access: 'allow' }]), /store_unavailable/)
  assert.equal(acl.check(client('c'), 'pub', 'late'), false, 'not yet re-read')
  await eventually(() => acl.check(client('c'), 'pub', 'late'), 3000) // the retry applied the stored rule
})
