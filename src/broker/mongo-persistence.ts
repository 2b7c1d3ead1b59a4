/**
 * aedes-persistence-mongodb for aedes 1.2, with the outgoing queue (QoS 1/2 messages for persistent
 * sessions) done here. Its promise-based class returns async generators where aedes 1.2's SUBSCRIBE
 * handler pipes a Node stream (`stream.pipe`), so those methods are wrapped with Readable.from.
 *
 * Why the queue is ours (issue 21; measured on FerretDB, where every query but an insert scans):
 * - Its `outgoingStream` is one unsorted cursor. FerretDB moves a row that is updated, and a cursor
 *   read while deliveries update and acknowledgements delete rows skipped some: a client resuming
 *   on another node after its node died got 319 of 362 acknowledged messages. Ours reads in pages
 *   by `_id` (`_id > last`, sorted, over our index): no row is skipped whatever changes meanwhile,
 *   and one publisher's messages come back in publish order (one node's ObjectIds increase)
 *   [MQTT-4.6.0-2..4].
 * - It stores every delivery's packet identifier (one `updateOne` per message) and deletes each
 *   acknowledged message on its own (`findOneAndDelete`): 20-40 messages/s on FerretDB. Ours keeps
 *   a QoS 1 delivery's identifier in memory (the message stays queued in the store until its PUBACK)
 *   and deletes what was acknowledged in one loop turn in one `deleteMany`. The cost: a QoS 1
 *   message in flight when its session moves to another node, or when this node dies, is sent
 *   again there under a new packet identifier with DUP=0 (a duplicate, which QoS 1 allows); on the
 *   same node it is resent under its identifier with DUP=1. QoS 2 keeps the stored identifiers.
 * - Enqueues that arrive in one loop turn go in one `insertMany` (group commit), acknowledged by
 *   the server with the session client's write concern (`w: majority, j: true`: journaled where the
 *   server journals); a publish is acknowledged by aedes only after it resolved.
 */
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import { ObjectId, type Db, type Filter } from 'mongodb'

type AsyncPersistenceClass = new (opts: { db: Db, collectionPrefix: string }) => Record<string, (...args: unknown[]) => unknown>

// CommonJS classes whose package typings do not describe them
const require = createRequire(import.meta.url)
const AsyncPersistence = require('aedes-persistence-mongodb/asyncPersistence.js') as AsyncPersistenceClass
const Packet = (require('aedes-persistence') as { Packet: new (p: object) => StoredPacket }).Packet

const STREAMING = ['createRetainedStream', 'createRetainedStreamCombi', 'streamWill', 'getClientList'] as const

/** the first page is small so the first message goes out at once; the rest come in large pages */
const FIRST_PAGE = 100
const PAGE = 5000
const MAX_DELETE_PAUSE_MS = 2000
/**
 * Longer than any of the session pool's own timeouts (30 s): a store call still unsettled then has
 * hung in the driver (seen during a store outage, with a stuck server monitor). It is answered with
 * an error: aedes closes that client's connection instead of waiting for ever, and a batch behind it
 * gets its turn. What it wrote, if it ever lands, is a duplicate at worst: nothing was acknowledged.
 */
export const DEADLINE_MS = 45000

interface StoredPacket extends Record<string, unknown> {
  cmd?: string
  qos?: number
  messageId?: number | null | undefined
  brokerId?: string
  brokerCounter?: number
  payload?: unknown
}
interface OutgoingDoc { _id: ObjectId, clientId: string, packet: StoredPacket }
interface ClientRef { id: string }
/** a QoS 1 message this node sent and the client has not acknowledged yet */
interface Sent { packet: StoredPacket, brokerId: string, brokerCounter: number }
interface Inflight { byMessageId: Map<number, Sent>, byRef: Map<string, number> }
interface Acked { clientId: string, brokerId: string, brokerCounter: number }
/** the aedes 1.2 client and broker members the drain relies on */
interface DrainingClient extends ClientRef { clean?: boolean, subscriptions?: Record<string, { qos?: number }> }
interface ForwardingBroker { authorizeForward: (client: DrainingClient, packet: StoredPacket) => unknown }
/** a persistent client's queue being read: refs read and not yet forwarded, live messages held back */
interface Drain { client: DrainingClient, yielded: Set<string>, held: number }

const ref = (brokerId: string, brokerCounter: number): string => `${brokerId}\u0000${brokerCounter}`

/**
 * Group commit: what is added in one loop turn is written by one `run`, one run at a time; what
 * arrives while a run is in flight goes in the next. Each add resolves when its run succeeded.
 */
export class Batcher<T> {
  #items: T[] = []
  #waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #scheduled = false
  #running = false

  /** `pause`: after a run that took d ms, the next one starts no sooner than pause(d) ms later */
  constructor (
    private readonly run: (items: T[]) => Promise<void>,
    private readonly pause: (ms: number) => number = () => 0,
    private readonly deadlineMs = DEADLINE_MS
  ) {}

  add (items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      for (const x of items) this.#items.push(x)
      this.#waiters.push({ resolve, reject })
      this.#schedule()
    })
  }

  #schedule (): void {
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    setImmediate(() => { this.#scheduled = false; this.#flush() })
  }

  #flush (): void {
    if (this.#waiters.length === 0) return
    const items = this.#items
    const waiters = this.#waiters
    this.#items = []
    this.#waiters = []
    this.#running = true
    const started = Date.now()
    withDeadline(this.run(items), this.deadlineMs).then(
      () => { for (const w of waiters) w.resolve() },
      (err: unknown) => { for (const w of waiters) w.reject(err) }
    ).finally(() => {
      const wait = this.pause(Date.now() - started)
      const next = (): void => { this.#running = false; this.#schedule() }
      if (wait > 0) setTimeout(next, wait).unref()
      else next()
    })
  }
}

export function createMongoPersistence (db: Db, collectionPrefix: string, onError: (err: unknown) => void = () => {}): unknown {
  const p = new AsyncPersistence({ db, collectionPrefix })
  for (const name of STREAMING) {
    const original = p[name]
    if (typeof original !== 'function') continue
    p[name] = (...args: unknown[]) => Readable.from(original.apply(p, args) as AsyncIterable<unknown>, { objectMode: true })
  }
  const outgoing = db.collection<OutgoingDoc>(`${collectionPrefix}outgoing`)
  const setup = p.setup as (broker: unknown) => Promise<void>
  // aedes checks that setup is an async function
  p.setup = async (broker: unknown) => {
    await setup.call(p, broker)
    await outgoing.createIndex({ clientId: 1, _id: 1 }, { name: 'query_clientId_order' })
    holdLiveWhileDraining(broker as ForwardingBroker)
  }

  const inflight = new Map<string, Inflight>()
  const inflightOf = (clientId: string): Inflight => {
    let f = inflight.get(clientId)
    if (f === undefined) inflight.set(clientId, f = { byMessageId: new Map(), byRef: new Map() })
    return f
  }

  // aedes-persistence-mongodb's storeRetained resolves even when its write failed (it ignores the
  // bulk's error): a retained QoS 1/2 message was acknowledged during a store outage and never
  // stored. Same batching (one ordered bulk at a time: two writes of a topic keep their order), but
  // a failed write fails the publish
  const retained = db.collection<{ topic: string }>(`${collectionPrefix}retained`)
  type RetainedOp = Parameters<typeof retained.bulkWrite>[0][number]
  const retainedWrites = new Batcher<RetainedOp>(async ops => { await retained.bulkWrite(ops, { ordered: true }) })
  p.storeRetained = async (packet: unknown) => {
    const pk = packet as StoredPacket & { topic: string, payload?: { length: number } }
    const filter = { topic: pk.topic }
    await retainedWrites.add([(pk.payload?.length ?? 0) > 0
      ? { updateOne: { filter, update: { $set: pk }, upsert: true } }
      : { deleteOne: { filter } }])
  }

  // ObjectIds are made here, at the call, so `_id` order is the order aedes enqueued in
  const inserts = new Batcher<OutgoingDoc>(async docs => { await outgoing.insertMany(docs, { ordered: true }) })
  const enqueue = async (subs: Array<{ clientId: string }>, packet: object): Promise<void> => {
    if (subs.length === 0) return
    const stored = new Packet(packet)
    await inserts.add(subs.map(s => ({ _id: new ObjectId(), clientId: s.clientId, packet: stored })))
  }
  p.outgoingEnqueueCombi = async (subs: unknown, packet: unknown) => { await enqueue(subs as Array<{ clientId: string }>, packet as object) }
  p.outgoingEnqueue = async (sub: unknown, packet: unknown) => { await enqueue([sub as { clientId: string }], packet as object) }

  /** client id → refs acknowledged whose delete is not written yet: a read of the queue skips them */
  const deleting = new Map<string, Set<string>>()
  // on a server that scans (FerretDB) a delete costs the same whatever it holds: one delete in
  // flight, and the store gets at least as long again for the reads and inserts of the flow
  const deletes = new Batcher<Acked>(async acked => {
    const groups = new Map<string, Acked[]>()
    for (const a of acked) {
      const k = `${a.clientId}\u0000${a.brokerId}`
      const g = groups.get(k)
      if (g === undefined) groups.set(k, [a])
      else g.push(a)
    }
    const clauses: Array<Filter<OutgoingDoc>> = []
    for (const g of groups.values()) {
      const head = { clientId: (g[0] as Acked).clientId, 'packet.brokerId': (g[0] as Acked).brokerId }
      // one publisher's messages are mostly acknowledged in order: runs of counters as ranges, which
      // a server that scans evaluates per row far cheaper than a long $in
      for (const [lo, hi] of runs(g.map(a => a.brokerCounter))) {
        clauses.push({ ...head, 'packet.brokerCounter': lo === hi ? lo : { $gte: lo, $lte: hi } })
      }
    }
    try {
      await outgoing.deleteMany(clauses.length === 1 ? clauses[0] as Filter<OutgoingDoc> : { $or: clauses })
    } finally {
      for (const a of acked) {
        const d = deleting.get(a.clientId)
        d?.delete(ref(a.brokerId, a.brokerCounter))
        if (d?.size === 0) deleting.delete(a.clientId)
      }
    }
  }, ms => Math.min(ms, MAX_DELETE_PAUSE_MS))

  const outgoingUpdate = p.outgoingUpdate as (client: unknown, packet: unknown) => Promise<void>
  p.outgoingUpdate = async (client: unknown, packet: unknown) => {
    const c = client as ClientRef
    const pk = packet as StoredPacket
    if ((pk.cmd ?? 'publish') === 'publish' && pk.qos === 1 && typeof pk.brokerId === 'string' && typeof pk.brokerCounter === 'number' && typeof pk.messageId === 'number') {
      const f = inflightOf(c.id)
      const r = ref(pk.brokerId, pk.brokerCounter)
      const before = f.byRef.get(r)
      if (before !== undefined && before !== pk.messageId) f.byMessageId.delete(before)
      f.byMessageId.set(pk.messageId, { packet: pk, brokerId: pk.brokerId, brokerCounter: pk.brokerCounter })
      f.byRef.set(r, pk.messageId)
      return
    }
    await outgoingUpdate.call(p, client, packet)
  }

  const outgoingClearMessageId = p.outgoingClearMessageId as (client: unknown, packet: unknown) => Promise<unknown>
  p.outgoingClearMessageId = async (client: unknown, packet: unknown) => {
    const c = client as ClientRef
    const messageId = (packet as StoredPacket | undefined)?.messageId
    // aedes clears a packet it did not forward to a persistent client by its identifier, which a
    // message not sent yet does not have: the original would delete some unsent queued row (a
    // null identifier matches every one)
    if (typeof messageId !== 'number') return null
    const f = inflight.get(c.id)
    const sent = typeof messageId === 'number' ? f?.byMessageId.get(messageId) : undefined
    if (f === undefined || sent === undefined) return await outgoingClearMessageId.call(p, client, packet)
    f.byMessageId.delete(messageId as number)
    f.byRef.delete(ref(sent.brokerId, sent.brokerCounter))
    if (f.byMessageId.size === 0) inflight.delete(c.id)
    const r = ref(sent.brokerId, sent.brokerCounter)
    let d = deleting.get(c.id)
    if (d === undefined) deleting.set(c.id, d = new Set())
    d.add(r)
    // not awaited: aedes reads a client's next packets only once these are handled, and a PUBACK
    // is the client's acknowledgement, not ours. A delete lost in a crash or an outage means the
    // message is sent again later (a duplicate, which QoS 1 allows), never lost
    deletes.add([{ clientId: c.id, brokerId: sent.brokerId, brokerCounter: sent.brokerCounter }]).catch((err: unknown) => {
      onError(err)
    })
    return sent.packet
  }

  /**
   * A resumed session's queue is read while new messages for it arrive live (over the bus, whose
   * backlog can be seconds long): delivered at once they would overtake the queue [MQTT-4.6.0-6].
   * A live QoS 1/2 message for a draining persistent client whose subscriptions are all QoS 1/2 is
   * in the queue already (aedes stores it before it publishes), so it is not forwarded live; the
   * read goes on until a page ends with no live message held back since it was asked for.
   */
  const draining = new Map<string, Drain>()
  function holdLiveWhileDraining (broker: ForwardingBroker): void {
    // a broker without the hook (the persistence's own test harness) forwards everything
    if (typeof broker.authorizeForward !== 'function') return
    const forward = broker.authorizeForward.bind(broker)
    broker.authorizeForward = (client, packet) => {
      const d = draining.get(client.id)
      if (d !== undefined && d.client === client && (packet.qos ?? 0) > 0 && typeof packet.brokerId === 'string') {
        const r = ref(packet.brokerId, packet.brokerCounter as number)
        if (d.yielded.delete(r)) return forward(client, packet)
        if (Object.values(client.subscriptions ?? {}).every(s => (s.qos ?? 0) > 0)) {
          d.held++
          return null
        }
      }
      return forward(client, packet)
    }
  }

  p.outgoingStream = (client: unknown) => {
    const c = client as DrainingClient
    const d: Drain | undefined = c.clean === true ? undefined : { client: c, yielded: new Set(), held: 0 }
    if (d !== undefined) draining.set(c.id, d)
    return Readable.from(queued(c.id, d), { objectMode: true })
  }
  // one indexed delete instead of one round trip per queued message (a clean CONNECT, an expired session)
  p.purgeOutgoing = async (clientId: unknown) => {
    inflight.delete(clientId as string)
    await outgoing.deleteMany({ clientId: clientId as string })
  }

  const page = async (clientId: string, after: ObjectId | undefined, size: number): Promise<OutgoingDoc[]> =>
    await outgoing.find(after === undefined ? { clientId } : { clientId, _id: { $gt: after } }).sort({ _id: 1 }).limit(size).toArray()

  async function * queued (clientId: string, drain: Drain | undefined): AsyncGenerator<StoredPacket> {
    try {
      let size = FIRST_PAGE
      let after: ObjectId | undefined
      let heldBefore = drain?.held ?? 0
      let next: Promise<OutgoingDoc[]> | null = page(clientId, after, size)
      while (next !== null) {
        const docs: OutgoingDoc[] = await next
        next = null
        after = docs.at(-1)?._id ?? after
        if (docs.length === size || (drain !== undefined && drain.held !== heldBefore)) {
          size = PAGE
          heldBefore = drain?.held ?? 0
          // the next page is read while this one is delivered
          next = page(clientId, after, size)
          // a consumer that stops early leaves it unawaited: never an unhandled rejection
          next.catch(() => {})
        }
        for (const doc of docs) {
          const pk = doc.packet
          if (typeof pk.brokerId !== 'string') { yield asPacket(clientId, doc); continue }
          const r = ref(pk.brokerId, pk.brokerCounter as number)
          if (deleting.get(clientId)?.has(r) === true) continue
          drain?.yielded.add(r)
          yield asPacket(clientId, doc)
        }
      }
    } finally {
      if (drain !== undefined && draining.get(clientId) === drain) draining.delete(clientId)
    }
  }

  function asPacket (clientId: string, doc: OutgoingDoc): StoredPacket {
    const packet = doc.packet
    // BSON Binary back to the Buffer aedes writes
    const payload = packet.payload as { buffer?: unknown } | undefined
    if (payload !== undefined && Buffer.isBuffer(payload.buffer)) packet.payload = payload.buffer
    // BSON keeps an unset identifier as null, which would read as "sent before" (DUP) downstream
    if (packet.messageId === null) packet.messageId = undefined
    // sent here before and not acknowledged: again under its identifier (then marked DUP)
    if (typeof packet.brokerId === 'string' && typeof packet.brokerCounter === 'number') {
      const id = inflight.get(clientId)?.byRef.get(ref(packet.brokerId, packet.brokerCounter))
      if (id !== undefined) packet.messageId = id
    }
    return packet
  }
  // every other call aedes waits for, bounded the same way (streams end with the store's error)
  for (const name of new Set([...Object.getOwnPropertyNames(Object.getPrototypeOf(p)), ...Object.keys(p)])) {
    const f = p[name]
    // aedes checks that setup is an async function; it runs once, at start, where a hang is seen at once
    if (typeof f !== 'function' || name === 'constructor' || name === 'setup') continue
    p[name] = (...args: unknown[]) => {
      const r = f.apply(p, args)
      return r instanceof Promise ? withDeadline(r, DEADLINE_MS) : r
    }
  }
  return p
}

export class StoreDeadlineError extends Error {
  override readonly name = 'StoreDeadlineError'
}

/** `work`, or a StoreDeadlineError once `ms` passed without it settling */
export function withDeadline<T> (work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new StoreDeadlineError(`the session store did not answer within ${ms} ms`)) }, ms)
    timer.unref()
    work.then(
      (v) => { clearTimeout(timer); resolve(v) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}

/** sorted runs of consecutive integers: [1,2,3,7,8] → [[1,3],[7,8]] */
function runs (xs: number[]): Array<[number, number]> {
  const sorted = [...new Set(xs)].sort((a, b) => a - b)
  const out: Array<[number, number]> = []
  for (const x of sorted) {
    const last = out.at(-1)
    if (last !== undefined && x === last[1] + 1) last[1] = x
    else out.push([x, x])
  }
  return out
}
