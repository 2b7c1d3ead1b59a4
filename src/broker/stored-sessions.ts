/**
 * Persistent sessions found in the MQTT persistence at start, so GET /sessions lists offline
 * clients' sessions (and their queues) after a restart, before those clients come back.
 * aedes' persistence interface has no way to enumerate sessions, so each backend answers here.
 */
import type { Db } from 'mongodb'
import type { QoS } from './types.js'

export interface StoredSession {
  clientId: string
  subscriptions: Array<[string, QoS]>
  /** messages queued for the client */
  queued: number
}

const asQos = (q: unknown): QoS => (q === 1 || q === 2 ? q : 0)

export function collectStoredSessions (subs: Iterable<{ client_id: string, topic: string, qos: unknown }>, queues: Iterable<[string, number]>): StoredSession[] {
  const byClient = new Map<string, StoredSession>()
  const get = (clientId: string): StoredSession => {
    let s = byClient.get(clientId)
    if (!s) byClient.set(clientId, s = { clientId, subscriptions: [], queued: 0 })
    return s
  }
  for (const r of subs) get(r.client_id).subscriptions.push([r.topic, asQos(r.qos)])
  for (const [clientId, n] of queues) if (n > 0) get(clientId).queued = n
  return [...byClient.values()].sort((a, b) => a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)
}

/** aedes-persistence-mongodb's collections (`<prefix>subscriptions`, `<prefix>outgoing`). */
export async function mongoStoredSessions (db: Db, prefix: string): Promise<StoredSession[]> {
  const subs = await db.collection(`${prefix}subscriptions`).find({}, { projection: { _id: 0, clientId: 1, topic: 1, qos: 1 } }).toArray()
  const queues = await db.collection(`${prefix}outgoing`).aggregate<{ _id: string, n: number }>([{ $group: { _id: '$clientId', n: { $sum: 1 } } }]).toArray()
  return collectStoredSessions(
    subs.map(d => ({ client_id: String(d.clientId), topic: String(d.topic), qos: d.qos })),
    queues.map(q => [String(q._id), q.n] as [string, number])
  )
}
