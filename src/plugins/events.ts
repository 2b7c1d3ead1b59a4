/**
 * The broker's client and message events in EMQ X 3.0's hook vocabulary (client.connected,
 * message.publish, …), for plugins that forward them (the web hook). aedes emits most of them; a
 * publish and a delivery come from the broker's publish/delivered hooks, which see them in order
 * (aedes' own 'publish' event fires only after delivery).
 */
import type { EventEmitter } from 'node:events'
import type { Broker, Message } from '../broker/broker.js'

export type EventName = 'client.connected' | 'client.disconnected' | 'client.subscribe' | 'client.unsubscribe' |
  'message.publish' | 'message.delivered' | 'message.acked'

export interface HookEvent {
  name: EventName
  /** EMQ X's web hook fields: action, client_id, username, topic, qos, payload, ts, node, … */
  body: Record<string, unknown>
}

type Handler = (e: HookEvent) => void

interface AedesClient { id: string, _disconnected?: boolean }
interface AckPacket { topic?: string, payload?: Buffer | string, qos?: number, retain?: boolean }

const SYS = '$SYS/'

/** the client lifecycle events, without the per-message ones */
export type LifecycleName = 'client.connected' | 'client.subscribe' | 'client.unsubscribe'

export class BrokerEvents {
  private readonly handlers = new Set<Handler>()
  /** handlers of the lifecycle events only: they never make a body per message */
  private readonly lifecycle = new Set<Handler>()
  /** username per aedes client object: still known when 'clientDisconnect' arrives */
  private readonly usernames = new WeakMap<object, string | null>()
  private broker: Broker | null = null

  constructor (private readonly node: string) {}

  /** Subscribes a handler; returns the function that unsubscribes it. */
  on (fn: Handler): () => void {
    this.handlers.add(fn)
    return () => { this.handlers.delete(fn) }
  }

  /** Subscribes to client.connected, client.subscribe and client.unsubscribe only; returns the unsubscribe. */
  onLifecycle (fn: Handler): () => void {
    this.lifecycle.add(fn)
    return () => { this.lifecycle.delete(fn) }
  }

  attach (broker: Broker): void {
    this.broker = broker
    const aedes = broker.aedes as EventEmitter
    aedes.on('client', (c: AedesClient) => {
      const username = broker.registry.connection(c.id)?.username ?? null
      // an anonymous client has no entry: a table entry per idle connection is memory per connection
      if (username !== null) this.usernames.set(c, username)
      if (this.handlers.size === 0 && this.lifecycle.size === 0) return
      this.emit('client.connected', { action: 'client_connected', client_id: c.id, username: name(username), conn_ack: 0 })
    })
    aedes.on('clientDisconnect', (c: AedesClient) => {
      if (this.handlers.size === 0) return
      // an orderly DISCONNECT is EMQ X's "normal"; anything else closed the connection
      const reason = c._disconnected === true ? 'normal' : 'closed'
      this.emit('client.disconnected', { action: 'client_disconnected', client_id: c.id, username: name(this.usernames.get(c)), reason })
    })
    aedes.on('subscribe', (subs: Array<{ topic: string, qos: number }>, c: AedesClient) => {
      if (this.handlers.size === 0 && this.lifecycle.size === 0) return
      for (const s of subs) {
        if (s.qos > 2) continue // refused in SUBACK
        this.emit('client.subscribe', { action: 'client_subscribe', client_id: c.id, username: name(this.usernames.get(c)), topic: s.topic, opts: { qos: s.qos } })
      }
    })
    aedes.on('unsubscribe', (topics: string[], c: AedesClient & { closed?: boolean }) => {
      if (c.closed === true) return // the implicit unsubscribe of a closing connection
      for (const topic of topics) this.emit('client.unsubscribe', { action: 'client_unsubscribe', client_id: c.id, username: name(this.usernames.get(c)), topic })
    })
    aedes.on('ack', (packet: AckPacket | null | undefined, c: AedesClient) => {
      // aedes hands over the acked message only for a persistent session (clean=false); a QoS 2
      // completion reports the stored PUBREL: without a message there is nothing to report.
      // Every acknowledged message comes here: nothing is made while nobody listens
      if (this.handlers.size === 0 || packet?.topic === undefined || packet.topic.startsWith(SYS)) return
      this.emit('message.acked', { action: 'message_acked', client_id: c.id, username: name(this.usernames.get(c)), ...message(packet) })
    })
  }

  /** From the broker's publish hook: a message accepted for routing. */
  published (clientId: string | null, m: Message): void {
    if (this.handlers.size === 0 || m.topic.startsWith(SYS)) return
    const from = clientId ?? 'undefined'
    this.emit('message.publish', { action: 'message_publish', from_client_id: from, from_username: name(this.usernameOf(clientId)), ...message(m) })
  }

  /** From the broker's delivered hook: a message forwarded to a subscriber. */
  delivered (clientId: string, m: Message): void {
    if (this.handlers.size === 0 || m.topic.startsWith(SYS)) return
    this.emit('message.delivered', { action: 'message_delivered', client_id: clientId, username: name(this.usernameOf(clientId)), ...message(m) })
  }

  private usernameOf (clientId: string | null): string | null {
    return clientId === null ? null : this.broker?.registry.connection(clientId)?.username ?? null
  }

  private emit (n: EventName, body: Record<string, unknown>): void {
    const toLifecycle = this.lifecycle.size > 0 && (n === 'client.connected' || n === 'client.subscribe' || n === 'client.unsubscribe')
    if (this.handlers.size === 0 && !toLifecycle) return
    const e: HookEvent = { name: n, body: { ...body, node: this.node, ts: Date.now() } }
    for (const fn of this.handlers) fn(e)
    if (toLifecycle) for (const fn of this.lifecycle) fn(e)
  }
}

function name (u: string | null | undefined): string {
  return u ?? 'undefined'
}

function message (m: AckPacket): Record<string, unknown> {
  const payload = m.payload === undefined ? '' : Buffer.isBuffer(m.payload) ? m.payload.toString('utf8') : String(m.payload)
  return { topic: m.topic, qos: m.qos ?? 0, retain: m.retain === true, payload }
}
