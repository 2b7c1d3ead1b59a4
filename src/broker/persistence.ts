/**
 * The aedes persistence as this broker sees it: the slice of its contract relied on, and the one
 * chain of layers over it (composePersistence), built in one place (broker.ts) in an order that
 * can be read there, instead of methods decorated in place in whatever order modules ran.
 */

import type { Readable } from 'node:stream'

export interface StoredPacket {
  topic: string
  payload?: Buffer | string
  messageId?: number
}

interface ClientRef { id: string }

export interface PersistenceLike {
  storeRetained (packet: StoredPacket): Promise<void>
  createRetainedStream? (pattern: string): Readable
  createRetainedStreamCombi (patterns: string[]): Readable
  outgoingEnqueue (sub: { clientId: string }, packet: StoredPacket): Promise<void>
  outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>
  outgoingStream (client: ClientRef): Readable
  outgoingClearMessageId (client: ClientRef, packet: StoredPacket): Promise<unknown>
  /** the stored subscriptions matching `topic` (aedes queues a QoS 1/2 message for each) */
  subscriptionsByTopic (topic: string): Promise<Array<{ clientId: string, topic: string, qos: number }>>
  /** a session's stored subscriptions, read at CONNECT (null: no session) */
  subscriptionsByClient (client: ClientRef): Promise<unknown>
  addSubscriptions (client: ClientRef, subs: Array<{ topic: string, qos: number }>): Promise<void>
  removeSubscriptions (client: ClientRef, topics: string[]): Promise<void>
  cleanSubscriptions (client: ClientRef): Promise<void>
  cleanIncoming? (client: ClientRef): Promise<void>
  /** an inbound QoS 2 message awaiting PUBREL (aedes' store of them, by packet id) */
  incomingStorePacket? (client: ClientRef, packet: StoredPacket): Promise<void>
  incomingDelPacket? (client: ClientRef, packet: { messageId?: number | undefined }): Promise<void>
  /** drops a client's whole outgoing queue at once (aedes clears it one message at a time) */
  purgeOutgoing? (clientId: string): Promise<void>
  destroy (): Promise<void>
}

/**
 * A layer over the persistence beneath it (`next`): the methods it changes, each calling `next`'s.
 * A layer never changes `next`, so what is beneath it is what the chain's order says.
 */
export type PersistenceLayer<P extends object = PersistenceLike> = (next: P) => Partial<P>

/**
 * `base` seen through `layers`, the first one nearest to it. Every method the result does not
 * override is `base`'s own, bound to it: `base` calls its own methods as itself (a layer is never
 * in the way of the backend's internal calls), and private fields keep working.
 */
export function composePersistence<P extends object> (base: P, layers: ReadonlyArray<PersistenceLayer<P>>): P {
  let top = boundView(base)
  for (const layer of layers) {
    const next = top
    top = Object.defineProperties({}, Object.getOwnPropertyDescriptors(next)) as P
    Object.assign(top, layer(next))
  }
  return top
}

/** Every method of `base` (own and inherited) bound to it; other properties read through. */
function boundView<P extends object> (base: P): P {
  const view: Record<string, unknown> = {}
  for (let o: object | null = base; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || Object.hasOwn(view, name)) continue
      const value = (base as Record<string, unknown>)[name]
      if (typeof value === 'function') view[name] = value.bind(base)
      else Object.defineProperty(view, name, { get: () => (base as Record<string, unknown>)[name], enumerable: true })
    }
  }
  return view as P
}

export interface PersistenceObserver {
  /** a retained message was stored (`present`) or cleared by an empty payload [MQTT-3.3.1-10] */
  retained (topic: string, present: boolean): void
  /** `packet` was queued in persistence for each of `clientIds` (online or not) */
  enqueued (clientIds: readonly string[], packet: StoredPacket): void
}

/**
 * Observes the three write paths, only after the store acknowledged. aedes calls them
 * promise-style; a callback-style call passes straight through.
 */
export function observePersistence (obs: PersistenceObserver): PersistenceLayer {
  return (next) => ({
    async storeRetained (packet, ...rest: unknown[]) {
      if (rest.length > 0) return await (next.storeRetained as (...a: unknown[]) => Promise<void>)(packet, ...rest)
      await next.storeRetained(packet)
      obs.retained(packet.topic, payloadLength(packet.payload) > 0)
    },
    async outgoingEnqueue (sub, packet, ...rest: unknown[]) {
      if (rest.length > 0) return await (next.outgoingEnqueue as (...a: unknown[]) => Promise<void>)(sub, packet, ...rest)
      await next.outgoingEnqueue(sub, packet)
      obs.enqueued([sub.clientId], packet)
    },
    // called for every QoS 1/2 message, mostly with no offline subscriber: then straight through, no extra promise
    outgoingEnqueueCombi (subs, packet, ...rest: unknown[]) {
      if (rest.length > 0 || subs.length === 0) return (next.outgoingEnqueueCombi as (...a: unknown[]) => Promise<void>)(subs, packet, ...rest)
      return next.outgoingEnqueueCombi(subs, packet).then(() => { obs.enqueued(subs.map(s => s.clientId), packet) })
    }
  })
}

function payloadLength (payload: Buffer | string | undefined): number {
  return payload?.length ?? 0
}

/** Retained topics at start-up, for a durable store that already holds some. */
export async function retainedTopics (p: PersistenceLike): Promise<string[]> {
  if (typeof p.createRetainedStream !== 'function') return []
  const topics: string[] = []
  for await (const packet of p.createRetainedStream('#') as AsyncIterable<StoredPacket>) topics.push(packet.topic)
  return topics
}

/** Removes everything aedes stores for an expired offline session. */
export async function purgeSession (p: PersistenceLike, clientId: string): Promise<void> {
  const client = { id: clientId }
  await p.cleanSubscriptions(client)
  if (p.purgeOutgoing !== undefined) await p.purgeOutgoing(clientId)
  else {
    const queued: StoredPacket[] = []
    for await (const packet of p.outgoingStream(client) as AsyncIterable<StoredPacket>) queued.push(packet)
    for (const packet of queued) await p.outgoingClearMessageId(client, packet)
  }
  if (typeof p.cleanIncoming === 'function') await p.cleanIncoming(client)
}
