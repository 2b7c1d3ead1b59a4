/**
 * A bound on the offline queue of a persistent session (EMQ X `max_mqueue_len`): aedes 1.2 stores
 * every QoS 1/2 message for an offline subscriber without limit. A layer over the persistence's
 * offline enqueue (aedes' outgoingEnqueueCombi); the online path (outgoingEnqueue, a message
 * being sent at once) is not limited.
 *
 * The newest message is dropped once the queue is full: the store is only ever appended to,
 * which works the same on every persistence (removing the oldest would need a read and a delete
 * per publish). EMQ X 3.0 drops the oldest by default; here the oldest queued messages are kept.
 */

import type { PersistenceLayer, StoredPacket } from './persistence.js'

export interface MqueueOptions {
  /** whether `clientId`'s offline queue is full, with `pending` enqueues not yet acknowledged by the store */
  full: (clientId: string, pending: number) => boolean
  /** `dropped` did not go into the queue of their sessions; `all` = nobody got the message */
  dropped: (clientIds: readonly string[], packet: StoredPacket, all: boolean) => void
}

export function limitMqueue (opts: MqueueOptions): PersistenceLayer {
  return (next) => {
    /** client id → enqueues in flight to the store (publishes are concurrent) */
    const pending = new Map<string, number>()
    const call = next.outgoingEnqueueCombi as (...a: unknown[]) => Promise<void>
    const limited = async (subs: Array<{ clientId: string }>, packet: StoredPacket, ...rest: unknown[]): Promise<void> => {
      const keep: typeof subs = []
      const dropped: string[] = []
      for (const s of subs) {
        if (opts.full(s.clientId, pending.get(s.clientId) ?? 0)) dropped.push(s.clientId)
        else keep.push(s)
      }
      if (dropped.length > 0) opts.dropped(dropped, packet, keep.length === 0)
      for (const s of keep) pending.set(s.clientId, (pending.get(s.clientId) ?? 0) + 1)
      try {
        return await call(keep, packet, ...rest)
      } finally {
        for (const s of keep) {
          const n = (pending.get(s.clientId) ?? 1) - 1
          if (n > 0) pending.set(s.clientId, n)
          else pending.delete(s.clientId)
        }
      }
    }
    // aedes calls this for every QoS 1/2 message, mostly with no offline subscriber: then straight through
    return { outgoingEnqueueCombi: (subs, packet, ...rest: unknown[]) => subs.length === 0 ? call(subs, packet, ...rest) : limited(subs, packet, ...rest) }
  }
}
