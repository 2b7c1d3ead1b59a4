/**
 * aedes-persistence-mongodb for aedes 1.2: its promise-based class returns async generators where
 * aedes 1.2's SUBSCRIBE handler pipes a Node stream (`stream.pipe`), so those methods are wrapped
 * with Readable.from (still async-iterable for every other caller).
 *
 * Its `outgoingStream` reads a client's queue with no sort, so the order a resuming client gets
 * its queued messages in is whatever the server returns (FerretDB does not keep insertion order
 * once rows are updated). Ours reads it in `_id` order over an index of our own: ObjectIds made by
 * one node increase, and a queue is filled by the node that took the publish, so one publisher's
 * messages come back in the order they were published [MQTT-4.6.0-2..4].
 */
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import type { Db } from 'mongodb'

type AsyncPersistenceClass = new (opts: { db: Db, collectionPrefix: string }) => Record<string, (...args: unknown[]) => unknown>

// a CommonJS class whose package typings do not describe it
const AsyncPersistence = createRequire(import.meta.url)('aedes-persistence-mongodb/asyncPersistence.js') as AsyncPersistenceClass

const STREAMING = ['createRetainedStream', 'createRetainedStreamCombi', 'streamWill', 'getClientList'] as const

interface StoredOutgoing { packet: { payload?: unknown } & Record<string, unknown> }

export function createMongoPersistence (db: Db, collectionPrefix: string): unknown {
  const p = new AsyncPersistence({ db, collectionPrefix })
  for (const name of STREAMING) {
    const original = p[name]
    if (typeof original !== 'function') continue
    p[name] = (...args: unknown[]) => Readable.from(original.apply(p, args) as AsyncIterable<unknown>, { objectMode: true })
  }
  const outgoing = db.collection<StoredOutgoing>(`${collectionPrefix}outgoing`)
  const setup = p.setup as (broker: unknown) => Promise<void>
  // aedes checks that setup is an async function
  p.setup = async (broker: unknown) => {
    await setup.call(p, broker)
    await outgoing.createIndex({ clientId: 1, _id: 1 }, { name: 'query_clientId_order' })
  }
  p.outgoingStream = (client: unknown) => Readable.from(queued((client as { id: string }).id), { objectMode: true })
  // one indexed delete instead of one round trip per queued message (a clean CONNECT, an expired session)
  p.purgeOutgoing = async (clientId: unknown) => { await outgoing.deleteMany({ clientId: clientId as string }) }

  async function * queued (clientId: string): AsyncGenerator<unknown> {
    for await (const doc of outgoing.find({ clientId }).sort({ _id: 1 })) {
      const packet = doc.packet
      // BSON Binary back to the Buffer aedes writes
      const payload = packet.payload as { buffer?: unknown } | undefined
      if (payload !== undefined && Buffer.isBuffer(payload.buffer)) packet.payload = payload.buffer
      yield packet
    }
  }
  return p
}
