/**
 * The live event stream behind GET /events (Server-Sent Events): client, session, ban, alarm,
 * config and node events of the whole cluster, with ids a reader resumes from.
 *
 * - Each node keeps the newest BUFFER_MAX events of at most BUFFER_MS in memory, in the order it
 *   learnt them, numbered by its own counter: an id (`<run>-<n>`) is valid on the node that gave it,
 *   for that node's run. Resuming from an id still buffered replays what followed, without gaps or
 *   duplicates; from an id too old or of another node/run, the reader is told (a `gap` event) and
 *   gets what is buffered.
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

/** what travels between nodes: an event without the receiving node's id */
type Wire = Omit<LiveEvent, 'id'>

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

export class LiveEvents {
  private readonly run = randomBytes(4).toString('hex')
  private seq = 0
  /** oldest first from `head`; the seq of buffer[head + i] is firstSeq + i */
  private buffer: LiveEvent[] = []
  private head = 0
  private firstSeq = 1
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
    this.push(w)
  }

  /** an event that happened here */
  emit (type: EventType, data: Record<string, unknown>, who: { clientid?: string, username?: string | null } = {}): void {
    const w: Wire = { type, node: this.node, at: this.now(), data }
    if (who.clientid !== undefined) w.clientid = who.clientid
    if (who.username !== undefined && who.username !== null) w.username = who.username
    if (this.forward !== null && type !== 'node.up' && type !== 'node.down') this.forward(Buffer.from(JSON.stringify(w)))
    this.push(w)
  }

  private push (w: Wire): void {
    const e: LiveEvent = { id: `${this.run}-${++this.seq}`, ...w }
    this.buffer.push(e)
    this.trim()
    for (const r of this.readers) r(e)
  }

  private get size (): number { return this.buffer.length - this.head }

  private trim (): void {
    const oldest = this.now() - BUFFER_MS
    while (this.size > BUFFER_MAX || (this.size > 0 && (this.buffer[this.head] as LiveEvent).at < oldest)) {
      this.head++
      this.firstSeq++
    }
    // compacted now and then: one copy per 1,024 dropped events, not one per event
    if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer = this.buffer.slice(this.head)
      this.head = 0
    }
  }

  /**
   * What a reader that saw up to `lastId` missed: the buffered events after it. A new reader
   * (no id) starts now. `gap`: lastId is too old, or of another node or run: the reader gets every
   * buffered event and is told that some may be missing.
   */
  since (lastId: string | undefined): { events: LiveEvent[], gap: boolean } {
    if (lastId === undefined) return { events: [], gap: false }
    this.trim()
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastId)
    const seq = m?.[1] === this.run ? Number(m[2]) : NaN
    if (!Number.isSafeInteger(seq) || seq > this.seq || seq < this.firstSeq - 1) return { events: this.buffer.slice(this.head), gap: true }
    return { events: this.buffer.slice(this.head + seq - this.firstSeq + 1), gap: false }
  }

  /** the id of the newest event (where a reader stands when it starts) */
  get lastId (): string { return `${this.run}-${this.seq}` }

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
