/**
 * The slice of the aedes persistence contract this module relies on, and a tap that observes
 * retained-message writes and offline enqueues without changing their behaviour.
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
  outgoingEnqueue (sub: { clientId: string }, packet: StoredPacket): Promise<void>
  outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>
  outgoingStream (client: ClientRef): Readable
  outgoingClearMessageId (client: ClientRef, packet: StoredPacket): Promise<unknown>
  removeSubscriptions (client: ClientRef, topics: string[]): Promise<void>
  cleanSubscriptions (client: ClientRef): Promise<void>
  cleanIncoming? (client: ClientRef): Promise<void>
  /** drops a client's whole outgoing queue at once (aedes clears it one message at a time) */
  purgeOutgoing? (clientId: string): Promise<void>
  destroy (): Promise<void>
}

export interface PersistenceObserver {
  /** a retained message was stored (`present`) or cleared by an empty payload [MQTT-3.3.1-10] */
  retained (topic: string, present: boolean): void
  /** `packet` was queued in persistence for each of `clientIds` (online or not) */
  enqueued (clientIds: readonly string[], packet: StoredPacket): void
}

/**
 * Wraps the three write paths in place (own properties shadow the prototype), observing only after
 * the store acknowledged. aedes calls them promise-style; a callback-style call passes straight through.
 */
export function tapPersistence (p: PersistenceLike, obs: PersistenceObserver): void {
  const storeRetained = p.storeRetained.bind(p)
  p.storeRetained = async (packet, ...rest: unknown[]) => {
    if (rest.length > 0) return (storeRetained as (...a: unknown[]) => Promise<void>)(packet, ...rest)
    await storeRetained(packet)
    obs.retained(packet.topic, payloadLength(packet.payload) > 0)
  }

  const enqueue = p.outgoingEnqueue.bind(p)
  p.outgoingEnqueue = async (sub, packet, ...rest: unknown[]) => {
    if (rest.length > 0) return (enqueue as (...a: unknown[]) => Promise<void>)(sub, packet, ...rest)
    await enqueue(sub, packet)
    obs.enqueued([sub.clientId], packet)
  }

  const enqueueCombi = p.outgoingEnqueueCombi.bind(p)
  // called for every QoS 1/2 message, mostly with no offline subscriber: then straight through, no extra promise
  p.outgoingEnqueueCombi = (subs, packet, ...rest: unknown[]) => {
    if (rest.length > 0 || subs.length === 0) return (enqueueCombi as (...a: unknown[]) => Promise<void>)(subs, packet, ...rest)
    return enqueueCombi(subs, packet).then(() => { obs.enqueued(subs.map(s => s.clientId), packet) })
  }
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
