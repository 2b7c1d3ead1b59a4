// The per-node predicates of src/cluster/list-filter.ts on connection and session records.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientPredicate, shareOf, type ClientView } from '../../src/cluster/list-filter.js'
import type { ConnInfo, SessionInfo } from '../../src/broker/types.js'

const conn = (o: Partial<ConnInfo>): ConnInfo => ({
  clientId: 'c',
  username: null,
  ipaddress: '127.0.0.1',
  port: 1,
  keepalive: 60,
  protoName: 'MQTT',
  protoVer: 4,
  isBridge: false,
  cleanStart: true,
  connectedAt: 1000_000,
  willTopic: null,
  peercert: 'nossl',
  listener: 'mqtt:tcp',
  counters: { recvPkt: 0, sendPkt: 0, recvOct: 0, sendOct: 0, recvMsg: 0, sendMsg: 0 },
  expiryInterval: 0,
  receiveMaximum: 65535,
  topicAliasMaximum: 0,
  maximumPacketSize: 0,
  ...o
})
const session = (o: Partial<SessionInfo>): SessionInfo => ({
  clientId: 'c',
  username: null,
  cleanStart: false,
  createdAt: 500_000,
  connected: false,
  subscriptionsCount: 0,
  inflightLen: 0,
  mqueueLen: 0,
  mqueueDropped: 0,
  deliverMsg: 0,
  enqueueMsg: 0,
  awaitingRelLen: 0,
  maxInflight: 0,
  maxMqueue: 0,
  maxAwaitingRel: 0,
  maxSubscriptions: 0,
  expiryInterval: 7200,
  ...o
})

test('address and CIDR, IPv4 on a dual-stack socket, IPv6', () => {
  const v = (ipaddress: string): ClientView => ({ conn: conn({ ipaddress }), session: undefined })
  const in8 = clientPredicate({ ip_address: { address: '10.0.0.0', prefix: 8, family: 'ipv4' } })
  assert.equal(in8(v('10.9.9.9')), true)
  assert.equal(in8(v('::ffff:10.1.2.3')), true)
  assert.equal(in8(v('11.0.0.1')), false)
  assert.equal(in8({ conn: undefined, session: session({}) }), false)
  const v6 = clientPredicate({ ip_address: { address: '2001:db8::', prefix: 32, family: 'ipv6' } })
  assert.equal(v6(v('2001:db8::1')), true)
  assert.equal(v6(v('2001:db9::1')), false)
})

test('times are inclusive; created_at is the session\'s, connected_at the connection\'s', () => {
  const view = { conn: conn({ connectedAt: 2000_000 }), session: session({ createdAt: 1000_000 }) }
  assert.equal(clientPredicate({ gte_created_at: 1000_000, lte_created_at: 1000_000 })(view), true)
  assert.equal(clientPredicate({ gte_created_at: 1000_001 })(view), false)
  assert.equal(clientPredicate({ gte_connected_at: 2000_000 })(view), true)
  assert.equal(clientPredicate({ lte_connected_at: 1999_999 })(view), false)
  // an offline session has no connected_at: a connected_at filter never matches it
  assert.equal(clientPredicate({ gte_connected_at: 0 })({ conn: undefined, session: session({}) }), false)
})

test('substrings, exact names, state and queue length', () => {
  const off = { conn: undefined, session: session({ clientId: 'dev-7', username: 'fleet', mqueueLen: 5 }) }
  assert.equal(clientPredicate({ like_clientid: 'v-7', like_username: 'lee', conn_state: 'disconnected', gte_mqueue_len: 5 })(off), true)
  assert.equal(clientPredicate({ gte_mqueue_len: 6 })(off), false)
  assert.equal(clientPredicate({ conn_state: 'connected' })(off), false)
  assert.equal(clientPredicate({ username: 'flee' })(off), false)
  assert.equal(clientPredicate({ like_username: 'x' })({ conn: conn({ username: null }), session: undefined }), false)
  assert.equal(clientPredicate({ clean_start: false })(off), true)
})

test('share groups', () => {
  assert.deepEqual(shareOf('$share/g1/a/b'), { group: 'g1', filter: 'a/b' })
  assert.deepEqual(shareOf('$queue/a'), { group: '$queue', filter: 'a' })
  assert.equal(shareOf('a/b'), null)
  assert.equal(shareOf('$share/g1'), null)
})
