// LiveEvents (src/services/events.ts): ids are positions valid on every node. Two instances stand
// for two nodes, the bus between them delivering each origin's events in order but late, so the
// nodes learn the same events interleaved differently; a reader moves from one to the other.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LiveEvents, parsePosition, type LiveEvent } from '../../src/services/events.js'

interface Pair { a: LiveEvents, b: LiveEvents, toA: Buffer[], toB: Buffer[], flush: () => void, clock: { t: number } }

function pair (): Pair {
  const clock = { t: 1_000_000 }
  const now = (): number => clock.t
  const a = new LiveEvents('a@h', now)
  const b = new LiveEvents('b@h', now)
  const toA: Buffer[] = []
  const toB: Buffer[] = []
  a.connect(w => { toB.push(w) })
  b.connect(w => { toA.push(w) })
  const flush = (): void => {
    for (const w of toA.splice(0)) a.receive(w)
    for (const w of toB.splice(0)) b.receive(w)
  }
  return { a, b, toA, toB, flush, clock }
}

/** what a reader on `node` sees from now on */
function reader (node: LiveEvents): LiveEvent[] {
  const got: LiveEvent[] = []
  node.subscribe(e => { got.push(e) }, () => {})
  return got
}

const names = (es: readonly LiveEvent[]): string[] => es.map(e => String(e.data.n))

test('a reader of node a resumes on node b: each event once, none missing, though b learnt them in another order', () => {
  const { a, b, flush, clock } = pair()
  const onA = reader(a)
  a.emit('session.subscribed', { n: 'a1' })
  b.emit('session.subscribed', { n: 'b1' })
  flush()
  // a learns b2 before a2 happened there; b learns a2 only after its own b3
  b.emit('session.subscribed', { n: 'b2' })
  flush()
  a.emit('session.subscribed', { n: 'a2' })
  clock.t += 5
  b.emit('session.subscribed', { n: 'b3' })
  // the reader saw a1 b1 b2 a2 on a and is cut off here; b3 has not reached a yet
  assert.deepEqual(names(onA), ['a1', 'b1', 'b2', 'a2'])
  const last = (onA.at(-1) as LiveEvent).id
  flush()
  a.emit('session.subscribed', { n: 'a3' })
  flush()
  // b learnt: b1 a1 b2 b3 a2 a3; the reader misses b3 and a3 only
  const r = b.since(last)
  assert.equal(r.gap, false)
  assert.deepEqual(names(r.events), ['b3', 'a3'])
  // and back to a, from ids b gave: at b3, b had seen a1 only
  const back = a.since((r.events.at(-1) as LiveEvent).id)
  assert.deepEqual([back.gap, names(back.events)], [false, []])
  const fromB3 = a.since((r.events[0] as LiveEvent).id)
  assert.deepEqual([fromB3.gap, names(fromB3.events)], [false, ['a2', 'a3']])
})

test('resuming on a node that is behind: what it learns later is not sent twice', () => {
  const { a, b, flush } = pair()
  const onA = reader(a)
  a.emit('session.subscribed', { n: 'a1' })
  flush()
  a.emit('session.subscribed', { n: 'a2' })
  // not yet on b
  const r = b.since((onA.at(-1) as LiveEvent).id)
  assert.deepEqual([r.gap, names(r.events)], [false, []])
  const onB = reader(b)
  flush()
  a.emit('session.subscribed', { n: 'a3' })
  flush()
  assert.deepEqual(names(onB.filter(r.fresh)), ['a3'])
})

test('an origin the id does not know (a node that joined since) is replayed from the id\'s time; node events stay on their node', () => {
  const { a, b, flush, clock } = pair()
  a.emit('session.subscribed', { n: 'a1' })
  const id = a.lastId
  clock.t += 10
  b.emit('session.subscribed', { n: 'b1' })
  b.emit('node.up', { name: 'c@h' })
  flush()
  assert.deepEqual(b.since(id).events.map(e => e.type), ['session.subscribed', 'node.up'])
  assert.deepEqual(names(a.since(id).events), ['b1'])
})

test('a gap is told when the events after the id are no longer kept, or the id has no known format', () => {
  const { a, b, flush, clock } = pair()
  a.emit('session.subscribed', { n: 'a1' })
  flush()
  const id = a.lastId
  for (let i = 2; i <= 10_002; i++) a.emit('session.subscribed', { n: `a${i}` })
  flush()
  clock.t += 1
  for (const node of [a, b]) {
    const r = node.since(id)
    assert.equal(r.gap, true)
    assert.equal(r.events.length, 10_000)
    assert.equal(names(r.events)[0], 'a3')
  }
  for (const bad of ['ffff-12', '', 'x.y', '1.abc:1:2']) {
    assert.equal(a.since(bad).gap, true, bad)
    assert.equal(parsePosition(bad), null, bad)
  }
})
