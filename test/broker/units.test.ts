import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Metrics } from '../../src/broker/metrics.js'
import { Registry } from '../../src/broker/registry.js'
import { normalizeIp } from '../../src/broker/conn.js'
import type { ConnInfo } from '../../src/broker/types.js'

test('IPv4-mapped IPv6 addresses are shown as plain IPv4', () => {
  assert.equal(normalizeIp('::ffff:10.0.0.1'), '10.0.0.1')
  assert.equal(normalizeIp('::1'), '::1')
  assert.equal(normalizeIp(undefined), '')
})

function info (clientId: string, cleanStart = true): ConnInfo {
  return {
    clientId,
    username: null,
    ipaddress: '127.0.0.1',
    port: 1,
    keepalive: 60,
    protoName: 'MQTT',
    protoVer: 4,
    isBridge: false,
    cleanStart,
    connectedAt: 0,
    willTopic: null,
    peercert: 'nossl',
    listener: 'mqtt:tcp',
    counters: { recvPkt: 0, sendPkt: 0, recvOct: 0, sendOct: 0, recvMsg: 0, sendMsg: 0 },
    expiryInterval: cleanStart ? 0 : 7200,
    receiveMaximum: 65535,
    topicAliasMaximum: 0,
    maximumPacketSize: 0
  }
}

// How fast the lists are built and paged is measured by the bench (API scenario: pages of 10,000
// connections); this checks what makes paging cheap: a list is built once per change, not per request.
test('10,000 clients with 20,000 subscriptions list sorted; each list is built once and rebuilt only after a change', () => {
  const r = new Registry('n@h', new Metrics(), { maxAwaitingRel: 0 })
  for (let i = 9999; i >= 0; i--) {
    const id = `c${String(i).padStart(5, '0')}`
    r.connected(info(id))
    r.addSubscription(id, `t/${i}/b`, 1)
    r.addSubscription(id, `t/${i}/a`, 0)
  }
  const subs = r.subscriptions()
  const conns = r.connections()
  const routes = r.routes()
  assert.equal(subs.length, 20000)
  assert.deepEqual(subs.slice(0, 2).map(s => s.topic), ['t/0/a', 't/0/b'])
  assert.equal(conns[0]?.clientId, 'c00000')
  assert.equal(r.routeCount, 20000)
  for (let p = 0; p < 1000; p++) {
    assert.equal(r.subscriptions(), subs)
    assert.equal(r.connections(), conns)
  }
  assert.equal(r.routes(), routes)
  r.connected(info('b0'))
  r.addSubscription('b0', 'a/first', 1)
  const after = r.subscriptions()
  assert.notEqual(after, subs)
  assert.deepEqual(after[0], { clientId: 'b0', topic: 'a/first', qos: 1 })
  assert.equal(after.length, 20001)
  assert.notEqual(r.connections(), conns)
  assert.equal(r.connections()[0]?.clientId, 'b0')
  assert.notEqual(r.routes(), routes)
  assert.equal(r.routes()[0]?.topic, 'a/first')
})

test('the connection list stays sorted through connects, takeovers and disconnects in any order, and a handed-out list never changes', () => {
  const r = new Registry('n@h', new Metrics(), { maxAwaitingRel: 0 })
  const live = new Map<string, ConnInfo>()
  let seed = 7
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  for (let step = 0; step < 3000; step++) {
    const id = `k${rand(400)}`
    const current = live.get(id)
    if (current !== undefined && rand(3) === 0) {
      r.disconnected(current, 0)
      live.delete(id)
    } else {
      // a new connection, or a takeover of the same client id
      const c = info(id)
      r.connected(c)
      live.set(id, c)
    }
    if (step % 97 === 0) {
      const before = r.connections()
      const copy = [...before]
      r.connected(info('zz-probe'))
      r.disconnected(r.connection('zz-probe')!, 0)
      assert.deepEqual(before, copy, 'a list handed out is not changed by later changes')
    }
  }
  const expected = [...live.values()].sort((a, b) => a.clientId < b.clientId ? -1 : 1)
  assert.deepEqual(r.connections().map(c => c.clientId), expected.map(c => c.clientId))
  // the records themselves: a takeover's newer one, never the replaced one
  assert.ok(r.connections().every((c, i) => c === expected[i]))
  assert.equal(r.connectionCount, live.size)
})

test('a persistent session outlives its connection until it expires; a clean one does not', () => {
  const r = new Registry('n@h', new Metrics(), { maxAwaitingRel: 0 })
  const p = info('p', false)
  const c = info('c')
  r.connected(p)
  r.connected(c)
  r.addSubscription('p', 'x', 1)
  r.addSubscription('c', 'x', 1)
  assert.deepEqual(r.routesOf('x'), [{ topic: 'x', nodes: ['n@h'] }])
  r.disconnected(p, 1000)
  r.disconnected(c, 1000)
  assert.deepEqual(r.sessions().map(s => [s.clientId, s.connected]), [['p', false]])
  assert.equal(r.routesOf('x').length, 1)
  assert.deepEqual(r.expiredSessions(1000 + 7200 * 1000 - 1), [])
  assert.deepEqual(r.expiredSessions(1000 + 7200 * 1000), ['p'])
})

test('subscriptionsMatching agrees with the full list through subscribes, unsubscribes and dropped sessions, filters shared by many clients or one', () => {
  const r = new Registry('n@h', new Metrics(), { maxAwaitingRel: 0 })
  const filters = ['a/b', 'a/+', 'a/#', '#', '+/b', '$share/g/a/+', 'x/y']
  const topics = ['a/b', 'a/c', 'x/y', 'q/b']
  let seed = 11
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const live = new Set<string>()
  const matches = (f: string, t: string): boolean => {
    const fl = f.replace(/^\$share\/[^/]+\//, '').split('/')
    const tl = t.split('/')
    for (let i = 0; i < fl.length; i++) {
      if (fl[i] === '#') return true
      if (i >= tl.length || (fl[i] !== '+' && fl[i] !== tl[i])) return false
    }
    return fl.length === tl.length
  }
  for (let step = 0; step < 4000; step++) {
    const id = `m${rand(12)}`
    const op = rand(10)
    if (!live.has(id)) { r.connected(info(id)); live.add(id) }
    if (op < 6) r.addSubscription(id, filters[rand(filters.length)] as string, rand(3) as 0 | 1 | 2)
    else if (op < 9) r.removeSubscription(id, filters[rand(filters.length)] as string)
    else { r.dropSession(id); live.delete(id) }
    if (step % 50 !== 0) continue
    for (const t of topics) {
      const expected = r.subscriptions().filter(s => matches(s.topic, t)).map(s => `${s.clientId} ${s.topic} ${s.qos}`)
      assert.deepEqual(r.subscriptionsMatching(t).map(s => `${s.clientId} ${s.topic} ${s.qos}`), expected, `step ${step}, topic ${t}`)
    }
  }
})
