/**
 * Our wrapping of aedes-persistence-mongodb (src/broker/mongo-persistence.ts) against a MongoDB-wire
 * server (FerretDB in CI): aedes-persistence's own conformance suite, and queue order on resume.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Readable } from 'node:stream'
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MongoClient } from 'mongodb'
import { createMongoPersistence } from '../../src/broker/mongo-persistence.js'

const URL_ENV = process.env['MONGODB_TEST_URL']
const SKIP = URL_ENV ? false : 'MONGODB_TEST_URL not set: start FerretDB with scripts/ferretdb.sh'
const require = createRequire(import.meta.url)
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: {
  test: typeof test
  persistence: () => Promise<unknown>
  testAsync: boolean
}) => void

const client = URL_ENV ? new MongoClient(URL_ENV) : null
const dbs: string[] = []
after(async () => {
  if (!client) return
  for (const name of dbs) await client.db(name).dropDatabase().catch(() => {})
  await client.close()
})

function freshDb (): ReturnType<MongoClient['db']> {
  // FerretDB allows [a-z0-9_-] in database names, 63 characters at most
  const name = `mqtt_persist_test_${process.pid}_${randomBytes(5).toString('hex')}`
  dbs.push(name)
  return (client as MongoClient).db(name)
}

interface Persistence {
  setup: (broker: unknown) => Promise<void>
  outgoingEnqueueCombi: (subs: Array<{ clientId: string }>, packet: object) => Promise<void>
  outgoingUpdate: (client: { id: string }, packet: object) => Promise<void>
  outgoingStream: (client: { id: string }) => Readable
}

describe('aedes-persistence abstract suite on MongoDB', { skip: SKIP }, () => {
  if (SKIP) return
  abstractSuite({ test, testAsync: true, persistence: async () => createMongoPersistence(freshDb(), 'mqtt_') })
})

test('a queue is streamed back in the order it was filled, also after messages got ids', { skip: SKIP }, async () => {
  const p = createMongoPersistence(freshDb(), 'mqtt_') as Persistence
  // setup subscribes the persistence to the broker's internal topics; nothing is published here
  const done = (...args: unknown[]): void => { (args.at(-1) as () => void)() }
  const broker = { id: 'node-a', counter: 0, subscribe: done, unsubscribe: done, publish: done }
  await p.setup(broker)
  const sub = { clientId: 'keeper' }
  const packets = Array.from({ length: 40 }, (_, i) => ({
    cmd: 'publish',
    topic: 'inbox/keeper',
    payload: Buffer.from(`m${i}`),
    qos: 1,
    retain: false,
    dup: false,
    brokerId: broker.id,
    brokerCounter: i + 1
  }))
  for (const packet of packets) await p.outgoingEnqueueCombi([sub], packet)
  // what a delivery does to a queued message: the stored row is updated in place with its packet id
  for (const i of [30, 3, 17, 0, 39]) await p.outgoingUpdate({ id: 'keeper' }, { ...packets[i], messageId: 100 + i })
  const streamed: string[] = []
  for await (const packet of p.outgoingStream({ id: 'keeper' })) {
    assert.ok(Buffer.isBuffer(packet.payload), 'payload comes back as a Buffer')
    streamed.push(packet.payload.toString())
  }
  assert.deepEqual(streamed, packets.map(x => x.payload.toString()))
})

test('a retained message whose write fails fails the publish (aedes-persistence-mongodb resolved anyway)', { skip: SKIP }, async () => {
  const own = new MongoClient(URL_ENV as string, { serverSelectionTimeoutMS: 2000 })
  const name = `mqtt_persist_test_${process.pid}_${randomBytes(5).toString('hex')}`
  dbs.push(name)
  const p = createMongoPersistence(own.db(name), 'mqtt_') as Persistence & { storeRetained: (packet: object) => Promise<void>, createRetainedStream: (pattern: string) => Readable }
  const done = (...args: unknown[]): void => { (args.at(-1) as () => void)() }
  await p.setup({ id: 'node-a', counter: 0, subscribe: done, unsubscribe: done, publish: done })
  const packet = { cmd: 'publish', topic: 'keep/a', payload: Buffer.from('v1'), qos: 1, retain: true }
  await p.storeRetained(packet)
  const stored: unknown[] = []
  for await (const r of p.createRetainedStream('keep/#')) stored.push((r as { payload: Buffer }).payload.toString())
  assert.deepEqual(stored, ['v1'])
  await own.close()
  await assert.rejects(p.storeRetained({ ...packet, payload: Buffer.from('v2') }))
})
