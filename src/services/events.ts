/**
 * The live event stream behind GET /events (Server-Sent Events): client, session, ban, alarm,
 * config and node events of the whole cluster, with ids a reader resumes from.
 *
 * - Each node keeps the newest BUFFER_MAX events of at most BUFFER_MS in memory, in the order it
 *   learnt them. Every event carries its origin (the run of the node where it happened) and its
 *   number there; the nodes receive each origin's events in that order (one Redis publisher), but
 *   interleave different origins differently. So an id is a position valid on every node: the time,
 *   and the newest number of each origin the serving node had when it sent the event. Resuming on
 *   any node replays, per origin, what follows that number, without gaps or duplicates; an id of no
 *   known format, or one whose origins' missed events the node no longer keeps, gets a `gap` event
 *   and what is buffered.
 * - A node's own events go to its peers over the cluster's Redis bus (one channel, fire and forget);
 *   node.up/node.down are not sent: every node sees membership change itself.
 * - A reader is a callback: emitting never waits for it (the HTTP side cuts a slow one off).
 */
import { randomBytes } from 'node:crypto'

export const EVENT_TYPES = [
  'client.connected', 'client.disconnected', 'session.subscribed', 'session.unsubscribed', 'message.dropped',
  'banned.created', 'banned.deleted', 'alarm.activated', 'alarm.deactivated', 'config.changed', 'node.up', 'node.down'
] as const
export type EventType = typeof EVENT_TYPES[number]

/** how many events, and for how long, a node keeps for readers that resume */
export const BUFFER_MAX = 10_000
export const BUFFER_MS = 5 * 60_000

export interface LiveEvent {
  /** set by the node that serves it */
  id: string
  type: EventType
  /** the node where it happened */
  node: string
  /** epoch ms */
  at: number
  clientid?: string
  username?: string
  data: Record<string, unknown>
}

/** what travels between nodes: an event without the receiving node's id, with where it comes from */
type Wire = Omit<LiveEvent, 'id'> & { origin: string, seq: number }

export interface EventFilter {
  /** exact types, or prefixes ending in `.` (`client.`); empty = every type */
  types: readonly string[]
  clientid?: string
  username?: string
}

/** null when every entry is a type or a prefix of some (`client.`, `client.*`); otherwise the bad entry */
export function badTypeFilter (types: readonly string[]): string | null {
  for (const t of types) {
    const p = prefixOf(t)
    if (p === null ? !(EVENT_TYPES as readonly string[]).includes(t) : !EVENT_TYPES.some(e => e.startsWith(p))) return t
  }
  return null
}

function prefixOf (t: string): string | null {
  if (t.endsWith('.*')) return t.slice(0, -1)
  return t.endsWith('.') ? t : null
}

export function matches (e: LiveEvent, f: EventFilter): boolean {
  if (f.clientid !== undefined && e.clientid !== f.clientid) return false
  if (f.username !== undefined && e.username !== f.username) return false
  if (f.types.length === 0) return true
  return f.types.some(t => {
    const p = prefixOf(t)
    return p === null ? e.type === t : e.type.startsWith(p)
  })
}

export type Reader = (e: LiveEvent) => void

/** where an event comes from: the origin's stream (a node's run) and its number there */
interface Origin { key: string, seq: number }

/** a buffered event, with its origin and when this node learnt it */
interface Entry { e: LiveEvent, key: string, seq: number, arrived: number }

/** A reader's position: the last number it saw of each origin, and the time its id was made. */
interface Position { at: number, seen: Map<string, number> }

const KEY = /^[0-9a-f]+n?$/
const NUM = /^[0-9a-z]+$/

/** `<ms>.<key>:<seq>.<key>:<seq>…` (base 36), or null when it is no id of this format */
export function parsePosition (id: string): Position | null {
  const [at, ...pairs] = id.split('.')
  if (at === undefined || !NUM.test(at)) return null
  const seen = new Map<string, number>()
  for (const p of pairs) {
    const [key, seq, extra] = p.split(':')
    if (key === undefined || seq === undefined || extra !== undefined || !KEY.test(key) || !NUM.test(seq)) return null
    seen.set(key, parseInt(seq, 36))
  }
  const ms = parseInt(at, 36)
  return Number.isSafeInteger(ms) ? { at: ms, seen } : null
}

/** What a resuming reader gets: the events it missed, whether some may be missing, and a check for the live ones. */
export interface Resume {
  events: LiveEvent[]
  gap: boolean
  /** false for an event the reader already saw (this node learnt it later than the node the reader came from) */
  fresh: (e: LiveEvent) => boolean
}

const origins = new WeakMap<LiveEvent, Origin>()

export class LiveEvents {
  /** this run's stream of events that travel to the peers; node.up/node.down (not sent) have their own, `<run>n` */
  private readonly run = randomBytes(4).toString('hex')
  private readonly counters = new Map<string, number>()
  /** oldest first from `head` */
  private buffer: Entry[] = []
  private head = 0
  /** per origin: the newest number this node learnt (kept after trimming) and how many are buffered */
  private readonly newest = new Map<string, number>()
  private readonly buffered = new Map<string, number>()
  private readonly readers = new Set<Reader>()
  private readonly closers = new Set<() => void>()
  private forward: ((w: Buffer) => void) | null = null

  constructor (private readonly node: string, private readonly now: () => number = Date.now) {}

  /** events of this node go to the peers through `publish` (the cluster bus) */
  connect (publish: (w: Buffer) => void): void {
    this.forward = publish
  }

  /** an event a peer sent over the bus */
  receive (message: Buffer): void {
    let w: Wire
    try {
      w = JSON.parse(message.toString('utf8')) as Wire
    } catch {
      return
    }
    if (w.node === this.node || !(EVENT_TYPES as readonly string[]).includes(w.type)) return
    if (typeof w.origin !== 'string' || !KEY.test(w.origin) || !Number.isSafeInteger(w.seq)) return
    // Redis pub/sub keeps one publisher's order; a repeat (never expected) is dropped
    if (w.seq <= (this.newest.get(w.origin) ?? 0)) return
    this.push(w)
  }

  /** an event that happened here */
  emit (type: EventType, data: Record<string, unknown>, who: { clientid?: string, username?: string | null } = {}): void {
    const local = type === 'node.up' || type === 'node.down'
    const origin = local ? `${this.run}n` : this.run
    const seq = (this.counters.get(origin) ?? 0) + 1
    this.counters.set(origin, seq)
    const w: Wire = { type, node: this.node, at: this.now(), data, origin, seq }
    if (who.clientid !== undefined) w.clientid = who.clientid
    if (who.username !== undefined && who.username !== null) w.username = who.username
    // every node sees membership change itself: node events are not sent
    if (this.forward !== null && !local) this.forward(Buffer.from(JSON.stringify(w)))
    this.push(w)
  }

  private push (w: Wire): void {
    const { origin, seq, ...rest } = w
    const arrived = this.now()
    this.newest.set(origin, seq)
    this.buffered.set(origin, (this.buffered.get(origin) ?? 0) + 1)
    const e: LiveEvent = { id: this.position(arrived), ...rest }
    origins.set(e, { key: origin, seq })
    this.buffer.push({ e, key: origin, seq, arrived })
    this.trim()
    for (const r of this.readers) r(e)
  }

  /** the id of "everything this node learnt so far": the newest number of each origin still buffered, and the time */
  private position (at: number): string {
    let id = at.toString(36)
    for (const [key, n] of this.buffered) if (n > 0) id += `.${key}:${(this.newest.get(key) ?? 0).toString(36)}`
    return id
  }

  private get size (): number { return this.buffer.length - this.head }

  private trim (): void {
    const oldest = this.now() - BUFFER_MS
    while (this.size > BUFFER_MAX || (this.size > 0 && (this.buffer[this.head] as Entry).arrived < oldest)) {
      const gone = this.buffer[this.head++] as Entry
      const left = (this.buffered.get(gone.key) ?? 1) - 1
      if (left > 0) this.buffered.set(gone.key, left)
      else this.buffered.delete(gone.key)
    }
    // compacted now and then: one copy per 1,024 dropped events, not one per event
    if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer = this.buffer.slice(this.head)
      this.head = 0
    }
  }

  /**
   * What a reader that saw up to `lastId` (an id of any node of the cluster) missed: of each origin
   * in the id, the buffered events numbered after it; of an origin not in it (a node that joined or
   * restarted since, or node events of this node), those this node learnt since the id's time. A
   * new reader (no id) starts now. `gap`: an id of no known format, or events of an origin that this
   * node no longer keeps (or never received) lie between the id and what it has; the reader gets what
   * is buffered and is told some may be missing.
   */
  since (lastId: string | undefined): Resume {
    if (lastId === undefined) return { events: [], gap: false, fresh: () => true }
    this.trim()
    const all = this.buffer.slice(this.head)
    const pos = parsePosition(lastId)
    if (pos === null) return { events: all.map(x => x.e), gap: true, fresh: () => true }
    const expect = new Map(pos.seen)
    let gap = false
    const events: LiveEvent[] = []
    for (const x of all) {
      const upTo = expect.get(x.key)
      if (upTo === undefined) {
        if (x.arrived >= pos.at) events.push(x.e)
        continue
      }
      if (x.seq <= upTo) continue
      if (x.seq !== upTo + 1) gap = true
      expect.set(x.key, x.seq)
      events.push(x.e)
    }
    // an origin of the id whose newer events this node learnt but no longer keeps
    for (const [key, upTo] of expect) if ((this.newest.get(key) ?? 0) > upTo) gap = true
    return {
      events,
      gap,
      fresh: e => {
        const o = origins.get(e)
        const upTo = o === undefined ? undefined : pos.seen.get(o.key)
        return o === undefined || upTo === undefined || o.seq > upTo
      }
    }
  }

  /** the id of the newest event (where a reader stands when it starts) */
  get lastId (): string { return this.position(this.now()) }

  subscribe (r: Reader, onClose: () => void): () => void {
    this.readers.add(r)
    this.closers.add(onClose)
    return () => {
      this.readers.delete(r)
      this.closers.delete(onClose)
    }
  }

  get readerCount (): number { return this.readers.size }

  /** true once the node stops: no new readers */
  closed = false

  /** ends every reader's stream (the node stops) */
  close (): void {
    this.closed = true
    for (const c of [...this.closers]) c()
    this.readers.clear()
    this.closers.clear()
  }
}
