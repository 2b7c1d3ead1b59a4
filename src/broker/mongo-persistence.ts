/**
 * aedes-persistence-mongodb for aedes 1.2: its promise-based class returns async generators where
 * aedes 1.2's SUBSCRIBE handler pipes a Node stream (`stream.pipe`), so those methods are wrapped
 * with Readable.from (still async-iterable for every other caller).
 */
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import type { Db } from 'mongodb'

type AsyncPersistenceClass = new (opts: { db: Db, collectionPrefix: string }) => Record<string, (...args: unknown[]) => unknown>

// a CommonJS class whose package typings do not describe it
const AsyncPersistence = createRequire(import.meta.url)('aedes-persistence-mongodb/asyncPersistence.js') as AsyncPersistenceClass

const STREAMING = ['createRetainedStream', 'createRetainedStreamCombi', 'outgoingStream', 'streamWill', 'getClientList'] as const

export function createMongoPersistence (db: Db, collectionPrefix: string): unknown {
  const p = new AsyncPersistence({ db, collectionPrefix })
  for (const name of STREAMING) {
    const original = p[name]
    if (typeof original !== 'function') continue
    p[name] = (...args: unknown[]) => Readable.from(original.apply(p, args) as AsyncIterable<unknown>, { objectMode: true })
  }
  return p
}
