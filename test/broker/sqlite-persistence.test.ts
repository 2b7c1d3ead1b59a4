import { after, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { createSqlitePersistence, MQTT_SESSIONS_FILE } from '../../src/broker/sqlite-persistence.js'
import type { PersistedPacket, SqlitePersistence } from '../../src/broker/sqlite-persistence.js'

const require = createRequire(import.meta.url)

// aedes-persistence's conformance suite (CommonJS, node:test-based); testAsync: the instance is awaited directly
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: {
  test: typeof test
  persistence: () => Promise<unknown>
  testAsync: boolean
}) => void

const suiteDirs: string[] = []
after(() => {
  for (const dir of suiteDirs) rmSync(dir, { recursive: true, force: true })
})

describe('aedes-persistence abstract suite', () => {
  abstractSuite({
    test,
    testAsync: true,
    async persistence () {
      const dir = mkdtempSync(join(tmpdir(), 'mqtt-persist-abstract-'))
      suiteDirs.push(dir)
      return await createSqlitePersistence({ dataDir: dir })
    }
  })
})

// restart round-trips: everything written must come back from the file alone

interface Harness {
  dataDir: string
  open: (brokerId?: string) => Promise<SqlitePersistence>
}

function harness (t: TestContext): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'mqtt-persist-'))
  const opened: SqlitePersistence[] = []
  t.after(() => {
    for (const p of opened) p.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  return {
    dataDir,
    async open (brokerId = 'broker-1') {
      const p = await createSqlitePersistence({ dataDir })
      opened.push(p)
      await p.setup({ id: brokerId, counter: 0 })
      return p
    }
  }
}

async function reopen (h: Harness, p: SqlitePersistence, brokerId?: string): Promise<SqlitePersistence> {
  p.close()
  return await h.open(brokerId)
}

async function all<T = PersistedPacket> (stream: Readable): Promise<T[]> {
  const out: T[] = []
  for await (const x of stream) out.push(x as T)
  return out
}

const publish = (topic: string, payload: Buffer | string, extra: Partial<PersistedPacket> = {}): PersistedPacket => ({
  cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, brokerId: 'broker-1', brokerCounter: 1, ...extra
})

test('uses its own file, <dataDir>/mqtt-sessions.db, and fileName overrides it', async (t) => {
  const h = harness(t)
  const p = await h.open()
  assert.equal(p.file, join(h.dataDir, MQTT_SESSIONS_FILE))
  assert.ok(existsSync(p.file))
  p.close()
  const q = await createSqlitePersistence({ dataDir: join(h.dataDir, 'nested'), fileName: 'other.db' })
  t.after(() => q.close())
  assert.equal(q.file, join(h.dataDir, 'nested', 'other.db'))
  assert.ok(existsSync(q.file))
})

test('subscriptions survive a restart: per client, by topic, counted, removed and cleaned', async (t) => {
  const h = harness(t)
  let p = await h.open()
  await p.addSubscriptions({ id: 'a' }, [
    { topic: 'x/#', qos: 1, rh: 0, rap: true, nl: false },
    { topic: 'y', qos: 0, rh: 0, rap: false, nl: true },
    { topic: 'z', qos: 2, rh: 1, rap: false, nl: false, subscriptionIdentifier: 7 }
  ])
  await p.addSubscriptions({ id: 'b' }, [{ topic: 'x/1', qos: 1 }, { topic: 'gone', qos: 1 }])
  await p.addSubscriptions({ id: 'c' }, [{ topic: 'x/1', qos: 2 }])
  // re-subscribing replaces the QoS
  await p.addSubscriptions({ id: 'a' }, [{ topic: 'x/#', qos: 2, rh: 0, rap: true, nl: false }])
  await p.removeSubscriptions({ id: 'b' }, ['gone'])
  await p.cleanSubscriptions({ id: 'c' })

  p = await reopen(h, p)
  assert.deepEqual(await p.subscriptionsByClient({ id: 'a' }), [
    { topic: 'x/#', qos: 2, rh: 0, rap: true, nl: false },
    { topic: 'y', qos: 0, rh: 0, rap: false, nl: true },
    { topic: 'z', qos: 2, rh: 1, rap: false, nl: false, subscriptionIdentifier: 7 }
  ])
  assert.deepEqual(await p.subscriptionsByClient({ id: 'b' }), [{ topic: 'x/1', qos: 1, rh: undefined, rap: undefined, nl: undefined }])
  assert.deepEqual(await p.subscriptionsByClient({ id: 'c' }), [])
  const matched = (await p.subscriptionsByTopic('x/1')).map(s => `${s.clientId}:${s.topic}:${s.qos}`).sort()
  assert.deepEqual(matched, ['a:x/#:2', 'b:x/1:1'])
  // QoS 0 subscriptions are restored but never matched for offline queueing
  assert.deepEqual(await p.subscriptionsByTopic('y'), [])
  assert.deepEqual(await p.countOffline(), { subsCount: 3, clientsCount: 2 })
  assert.deepEqual(await all<string>(p.getClientList('x/1')), ['b'])
})

test('retained messages survive a restart; an empty payload deletes one; payload types are kept', async (t) => {
  const h = harness(t)
  let p = await h.open()
  await p.storeRetained(publish('r/1', Buffer.from('one'), { retain: true, qos: 0 }))
  await p.storeRetained(publish('r/2', 'text payload', { retain: true, qos: 1 }))
  await p.storeRetained(publish('r/3', Buffer.from('three'), { retain: true }))
  await p.storeRetained(publish('r/1', Buffer.from('one again'), { retain: true, qos: 2 }))
  await p.storeRetained(publish('r/3', Buffer.alloc(0), { retain: true }))

  p = await reopen(h, p)
  const list = await all(p.createRetainedStream('#'))
  assert.deepEqual(list.map(r => [r.topic, r.payload, r.qos, r.retain]), [
    ['r/1', Buffer.from('one again'), 2, true],
    ['r/2', 'text payload', 1, true]
  ])
  assert.deepEqual((await all(p.createRetainedStreamCombi(['r/2', 'nope/#']))).map(r => r.topic), ['r/2'])

  await p.storeRetained(publish('r/2', Buffer.alloc(0), { retain: true }))
  p = await reopen(h, p)
  assert.deepEqual((await all(p.createRetainedStream('r/+'))).map(r => r.topic), ['r/1'])
})

test('outgoing queues survive a restart in order, with assigned messageIds, PUBREL replacements and clears', async (t) => {
  const h = harness(t)
  let p = await h.open()
  const a = { id: 'a' }
  const b = { id: 'b' }
  for (let i = 1; i <= 5; i++) {
    await p.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], publish('q', Buffer.from(`m${i}`), { brokerCounter: i, qos: i === 2 ? 2 : 1 }))
  }
  await p.outgoingEnqueue({ clientId: 'a' }, publish('q', 'str', { brokerCounter: 6 }))
  // m1 in flight with id 101, m2 (QoS 2) got PUBREC so it is now a PUBREL, m3 acknowledged
  await p.outgoingUpdate(a, { ...publish('q', Buffer.from('m1'), { brokerCounter: 1 }), messageId: 101 })
  await p.outgoingUpdate(a, { ...publish('q', Buffer.from('m2'), { brokerCounter: 2, qos: 2 }), messageId: 102 })
  await p.outgoingUpdate(a, { cmd: 'pubrel', messageId: 102 })
  await p.outgoingUpdate(a, { ...publish('q', Buffer.from('m3'), { brokerCounter: 3 }), messageId: 103 })
  assert.equal((await p.outgoingClearMessageId(a, { messageId: 103 }))?.payload?.toString(), 'm3')
  // b: the first queued (no messageId yet) is cleared, as purgeSession does
  await p.outgoingClearMessageId(b, { messageId: undefined })

  p = await reopen(h, p, 'broker-2')
  const qa = await all(p.outgoingStream(a))
  assert.deepEqual(qa.map(x => [x.cmd, x.payload?.toString(), x.messageId]), [
    ['publish', 'm1', 101],
    ['pubrel', undefined, 102],
    ['publish', 'm4', undefined],
    ['publish', 'm5', undefined],
    ['publish', 'str', undefined]
  ])
  const m1 = qa[0]
  assert.ok(m1 !== undefined)
  assert.equal(m1.constructor.name, 'Packet')
  assert.deepEqual([m1.brokerId, m1.brokerCounter, m1.qos, m1.retain, m1.dup, m1.topic], ['broker-1', 1, 1, false, false, 'q'])
  assert.equal(typeof qa[4]?.payload, 'string')
  assert.deepEqual((await all(p.outgoingStream(b))).map(x => x.payload?.toString()), ['m2', 'm3', 'm4', 'm5'])

  // restored entries keep working: resend m4 with a new id, complete the PUBREL, ack m1
  await p.outgoingUpdate(a, { ...publish('q', Buffer.from('m4'), { brokerCounter: 4 }), messageId: 7 })
  assert.equal((await p.outgoingClearMessageId(a, { messageId: 102 }))?.cmd, 'pubrel')
  assert.equal((await p.outgoingClearMessageId(a, { messageId: 101 }))?.payload?.toString(), 'm1')
  assert.equal(await p.outgoingClearMessageId(a, { messageId: 999 }), undefined)
  await assert.rejects(p.outgoingUpdate(a, { ...publish('q', 'x', { brokerCounter: 99 }), messageId: 5 }), /no such packet/)

  p = await reopen(h, p)
  assert.deepEqual((await all(p.outgoingStream(a))).map(x => [x.payload?.toString(), x.messageId]), [
    ['m4', 7], ['m5', undefined], ['str', undefined]
  ])
  assert.deepEqual(await all(p.outgoingStream({ id: 'nobody' })), [])
})

test('MQTT 5 properties and other packet fields round-trip, including binary correlation data', async (t) => {
  const h = harness(t)
  let p = await h.open()
  const properties = {
    correlationData: Buffer.from([0, 1, 2, 255]),
    userProperties: { a: 'b', list: ['x', 'y'] },
    contentType: 'text/plain',
    messageExpiryInterval: 60
  }
  await p.outgoingEnqueue({ clientId: 'a' }, publish('q', Buffer.from('v5'), { properties, clientId: 'pub', messageExpiry: 12345 }))
  p = await reopen(h, p)
  const [restored] = await all(p.outgoingStream({ id: 'a' }))
  assert.ok(restored !== undefined)
  assert.deepEqual(restored.properties, properties)
  assert.ok(Buffer.isBuffer((restored.properties as { correlationData: unknown }).correlationData))
  assert.equal(restored.clientId, 'pub')
  assert.equal(restored.messageExpiry, 12345)
})

test('incoming QoS 2 packets survive a restart until PUBREL deletes them; cleanIncoming is durable', async (t) => {
  const h = harness(t)
  let p = await h.open()
  const a = { id: 'a' }
  const b = { id: 'b' }
  await p.incomingStorePacket(a, { ...publish('in', Buffer.from('one'), { qos: 2 }), messageId: 1 })
  await p.incomingStorePacket(a, { ...publish('in', Buffer.from('two'), { qos: 2 }), messageId: 2 })
  await p.incomingStorePacket(b, { ...publish('in', Buffer.from('b'), { qos: 2 }), messageId: 1 })
  await p.incomingDelPacket(a, { messageId: 1 })

  p = await reopen(h, p)
  await assert.rejects(p.incomingGetPacket(a, { messageId: 1 }), /no such packet/)
  const two = await p.incomingGetPacket(a, { messageId: 2 })
  assert.deepEqual([two.topic, two.payload, two.qos, two.messageId], ['in', Buffer.from('two'), 2, 2])
  await p.cleanIncoming(a)

  p = await reopen(h, p)
  await assert.rejects(p.incomingGetPacket(a, { messageId: 2 }), /no such packet/)
  assert.equal((await p.incomingGetPacket(b, { messageId: 1 })).payload?.toString(), 'b')
})

test('wills survive a restart with the brokerId they were stored under, so the new broker publishes them', async (t) => {
  const h = harness(t)
  let p = await h.open('old-broker')
  await p.putWill({ id: 'w1' }, { topic: 'will/1', payload: Buffer.from('bye'), qos: 1, retain: false })
  await p.putWill({ id: 'w2' }, { topic: 'will/2', payload: Buffer.from('bye2'), qos: 0, retain: true })
  await p.delWill({ id: 'w2' })

  p = await reopen(h, p, 'new-broker')
  const will = await p.getWill({ id: 'w1' })
  assert.deepEqual(will, { topic: 'will/1', payload: Buffer.from('bye'), qos: 1, retain: false, brokerId: 'old-broker', clientId: 'w1' })
  assert.equal(await p.getWill({ id: 'w2' }), undefined)
  // aedes passes the brokers it knows to be alive: the old one is not
  assert.deepEqual((await all(p.streamWill({ 'new-broker': Date.now() }))).map(w => w.clientId), ['w1'])
  assert.deepEqual(await all(p.streamWill({ 'old-broker': Date.now() })), [])
  await p.delWill({ id: 'w1', brokerId: 'old-broker' } as { id: string })

  p = await reopen(h, p)
  assert.deepEqual(await all(p.streamWill()), [])
})

test('a write after close() rejects and leaves memory unchanged', async (t) => {
  const h = harness(t)
  const p = await h.open()
  await p.addSubscriptions({ id: 'a' }, [{ topic: 't', qos: 1 }])
  p.close()
  p.close() // idempotent
  await assert.rejects(p.addSubscriptions({ id: 'a' }, [{ topic: 'u', qos: 1 }]))
  await assert.rejects(p.outgoingEnqueue({ clientId: 'a' }, publish('t', 'x')))
  assert.deepEqual((await p.subscriptionsByClient({ id: 'a' })).map(s => s.topic), ['t'])
  assert.deepEqual(await all(p.outgoingStream({ id: 'a' })), [])
})

test('destroy() closes the database but keeps the file', async (t) => {
  const h = harness(t)
  let p = await h.open()
  await p.storeRetained(publish('keep', Buffer.from('me'), { retain: true }))
  await p.destroy()
  p = await h.open()
  assert.deepEqual((await all(p.createRetainedStream('#'))).map(r => r.topic), ['keep'])
})

test('a second instance on a file that is in use is refused rather than diverging', async (t) => {
  const h = harness(t)
  await h.open()
  await assert.rejects(createSqlitePersistence({ dataDir: h.dataDir }), /in use by another broker/)
})

test('the deletes of a clean CONNECT (skipped for a client with no rows) remove rows found at load and rows written in the same turn, durably', async (t) => {
  const h = harness(t)
  let p = await h.open()
  await p.putWill({ id: 'w0' }, publish('will/0', 'x'))
  // what aedes does for every clean CONNECT: three deletes, each awaited before the next
  const cleanConnect = async (id: string): Promise<void> => {
    await p.cleanSubscriptions({ id })
    await p.cleanIncoming({ id })
    await p.delWill({ id })
  }
  await cleanConnect('nobody')

  await p.addSubscriptions({ id: 'a' }, [{ topic: 'a/#', qos: 1 }])
  await p.incomingStorePacket({ id: 'a' }, publish('in/a', 'x', { qos: 2, messageId: 7 }))
  await p.putWill({ id: 'a' }, publish('will/a', 'x'))
  await p.addSubscriptions({ id: 'b' }, [{ topic: 'b/#', qos: 1 }])
  p = await reopen(h, p)
  await cleanConnect('a')
  // a subscription written in the same loop turn as the clean, not yet committed
  const adding = p.addSubscriptions({ id: 'c' }, [{ topic: 'c/#', qos: 1 }])
  const cleaning = p.cleanSubscriptions({ id: 'c' })
  await Promise.all([adding, cleaning])
  await p.cleanSubscriptions({ id: 'b' })

  p = await reopen(h, p)
  for (const id of ['a', 'b', 'c']) assert.deepEqual(await p.subscriptionsByClient({ id }), [], id)
  assert.deepEqual((await all(p.streamWill())).map(w => w.topic), ['will/0'], 'only the will of the client never cleaned')
  // the incoming QoS 2 packet of a is gone: a PUBLISH with its id is not taken for a duplicate
  await assert.rejects(p.incomingGetPacket({ id: 'a' }, { messageId: 7 }))
})
