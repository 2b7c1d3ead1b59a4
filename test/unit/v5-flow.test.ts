// OutboundFlow (src/broker/v5-flow.ts) with a recording peer: the window, its bound, discards, PUBREL.
// End to end with mqtt.js and raw MQTT 5 clients: test/broker/mqtt5-flow.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { limitsOf, matches, OutboundFlow, serverKeepAlive, type OutPacket } from '../../src/broker/v5-flow.js'

function flow (limits: Parameters<typeof limitsOf>[0], maxHeld = 0, subs: Record<string, { si?: number }> = {}, maxHeldBytes = 1e9): { f: OutboundFlow, sent: OutPacket[], discarded: OutPacket[], dropped: () => number } {
  const sent: OutPacket[] = []
  const discarded: OutPacket[] = []
  let dropped = 0
  const f = new OutboundFlow(limitsOf(limits), {
    // as the wire tap does: the packet is offered to the flow again
    send: (p) => { const out = f.outgoing(p); if (out !== null) sent.push(out) },
    discarded: (p) => { discarded.push(p) },
    dropped: () => { dropped++ },
    subscriptions: () => subs
  }, { messages: maxHeld, bytes: maxHeldBytes })
  return { f, sent, discarded, dropped: () => dropped }
}

const pub = (messageId: number, qos = 1, payload = 'x', topic = 't'): OutPacket => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, messageId, retain: false })

test('the window holds what is beyond Receive Maximum and releases it in order, one per acknowledgement', () => {
  const { f, sent } = flow({ receiveMaximum: 2 })
  const out = [1, 2, 3, 4].map(id => f.outgoing(pub(id)))
  assert.deepEqual(out.map(p => p?.messageId ?? null), [1, 2, null, null])
  assert.equal(f.waiting(), 2)
  f.incoming({ cmd: 'puback', messageId: 7 }) // not in flight: nothing moves
  assert.equal(sent.length, 0)
  f.incoming({ cmd: 'puback', messageId: 2 })
  assert.deepEqual(sent.map(p => p.messageId), [3])
  f.incoming({ cmd: 'pubcomp', messageId: 1 })
  assert.deepEqual(sent.map(p => p.messageId), [3, 4])
  assert.equal(f.waiting(), 0)
  // QoS 0 is not counted and never waits
  assert.notEqual(f.outgoing(pub(0, 0)), null)
})

test('a PUBREL sent again counts its message in flight until PUBCOMP; a PUBREC with an error code ends it', () => {
  const { f, sent } = flow({ receiveMaximum: 1 })
  assert.notEqual(f.outgoing({ cmd: 'pubrel', messageId: 9 }), null)
  assert.equal(f.outgoing(pub(10, 2)), null)
  f.incoming({ cmd: 'pubrec', messageId: 9 }) // no effect: it waits for PUBCOMP
  assert.equal(sent.length, 0)
  f.incoming({ cmd: 'pubcomp', messageId: 9 })
  assert.deepEqual(sent.map(p => p.messageId), [10])
  assert.equal(f.outgoing(pub(11)), null)
  f.incoming({ cmd: 'pubrec', messageId: 10, reasonCode: 0x87 })
  assert.deepEqual(sent.map(p => p.messageId), [10, 11])
})

test('what waits is bounded: beyond its count or its bytes a message is dropped (counted), not queued', () => {
  const { f, dropped } = flow({ receiveMaximum: 1 }, 2)
  for (let id = 1; id <= 5; id++) f.outgoing(pub(id))
  assert.equal(f.waiting(), 2)
  assert.equal(dropped(), 2)
  // 1 topic byte + 10 payload bytes each: 3 fit in 35
  const { f: g, dropped: gDropped } = flow({ receiveMaximum: 1 }, 0, {}, 35)
  for (let id = 1; id <= 6; id++) g.outgoing(pub(id, 1, '.'.repeat(10)))
  assert.equal(g.waiting(), 3)
  assert.equal(gDropped(), 2)
  g.incoming({ cmd: 'puback', messageId: 1 })
  assert.equal(g.waiting(), 2)
  g.outgoing(pub(7, 1, '.'.repeat(10)))
  assert.equal(g.waiting(), 3, 'a released one frees its bytes')
})

test('a message above Maximum Packet Size is discarded, QoS 1/2 finished as acknowledged, and frees its place in the window', () => {
  const { f, discarded, dropped } = flow({ receiveMaximum: 1, maximumPacketSize: 30 })
  assert.equal(f.outgoing(pub(1, 1, '.'.repeat(40))), null)
  assert.deepEqual(discarded.map(p => p.messageId), [1])
  assert.equal(dropped(), 1)
  assert.notEqual(f.outgoing(pub(2, 1, '.'.repeat(10))), null, 'the window is free')
  assert.equal(f.outgoing(pub(0, 0, '.'.repeat(40))), null)
  assert.equal(discarded.length, 1, 'QoS 0 has nothing to finish')
  // exact size: 1 type byte + 1 length byte + (2 + 1 topic + 2 id + 1 property length + payload)
  const { f: g } = flow({ maximumPacketSize: 30 })
  assert.notEqual(g.outgoing(pub(3, 1, '.'.repeat(30 - 8))), null)
  assert.equal(g.outgoing(pub(4, 1, '.'.repeat(30 - 7))), null)
})

test('a topic gets an alias once a packet naming it was sent; a discarded one does not set it', () => {
  const { f } = flow({ topicAliasMaximum: 1, maximumPacketSize: 40 })
  assert.equal(f.outgoing(pub(0, 0, '.'.repeat(50), 'a')), null)
  const first = f.outgoing(pub(0, 0, 'x', 'a'))
  assert.deepEqual([first?.topic, first?.properties?.topicAlias], ['a', 1])
  const second = f.outgoing(pub(0, 0, 'y', 'a'))
  assert.deepEqual([second?.topic, second?.properties?.topicAlias], ['', 1])
  const other = f.outgoing(pub(0, 0, 'z', 'b'))
  assert.deepEqual([other?.topic, other?.properties?.topicAlias], ['b', undefined])
})

test('identifiers of every matching non-shared subscription; retained and single matches left as aedes made them', () => {
  const subs = { 'a/b': { si: 2 }, 'a/+': { si: 3 }, '#': {}, '$share/g/a/b': { si: 9 } }
  const { f } = flow({}, 0, subs)
  const p = (retain: boolean, si?: number): OutPacket => ({ ...pub(0, 0, 'x', 'a/b'), retain, ...si !== undefined ? { properties: { subscriptionIdentifier: si } } : {} })
  assert.deepEqual(f.outgoing(p(false, 2))?.properties?.subscriptionIdentifier, [2, 3])
  assert.equal(f.outgoing(p(true, 2))?.properties?.subscriptionIdentifier, 2)
  const only = { ...pub(0, 0, 'x', 'a/c'), properties: { subscriptionIdentifier: 3 } }
  assert.equal(f.outgoing(only), only, 'one matching identifier: the packet as it is')
})

test('a resumed session\'s identifiers count from its CONNACK on, even on a copy aedes sent without one', () => {
  const { f } = flow({}, 0, { 'r/a': {}, 'r/#': { si: 6 } })
  const copy = pub(0, 0, 'x', 'r/a')
  assert.equal(f.outgoing(copy), copy, 'before CONNACK nothing told it identifiers are in use')
  f.outgoing({ cmd: 'connack', reasonCode: 0 } as OutPacket)
  assert.deepEqual(f.outgoing(copy)?.properties?.subscriptionIdentifier, [6])
})

test('the aliases set on one connection are bounded, whatever the client allows', () => {
  assert.equal(limitsOf({ topicAliasMaximum: 65535 }).topicAliasMaximum, 1024)
  assert.equal(limitsOf({ topicAliasMaximum: 3 }).topicAliasMaximum, 3)
  assert.deepEqual(limitsOf(undefined), { receiveMaximum: 65535, maximumPacketSize: 0, topicAliasMaximum: 0 })
})

test('topic filter matching [MQTT-4.7]', () => {
  assert.ok(matches('a/+/c', 'a/b/c'))
  assert.ok(matches('a/#', 'a'))
  assert.ok(matches('a/#', 'a/b/c'))
  assert.ok(!matches('a/+', 'a/b/c'))
  assert.ok(!matches('#', '$SYS/x'))
  assert.ok(matches('$SYS/#', '$SYS/x'))
  assert.ok(matches('+/+', '/x'))
})

test('Server Keep Alive: none or more than the maximum is held to it; 0 switches it off', () => {
  assert.equal(serverKeepAlive(120, 60), 60)
  assert.equal(serverKeepAlive(0, 60), 60)
  assert.equal(serverKeepAlive(30, 60), undefined)
  assert.equal(serverKeepAlive(120, 0), undefined)
})
