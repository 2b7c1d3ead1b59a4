/**
 * GET /events: the live event stream as Server-Sent Events. Each event is `id:` + `data:` (JSON);
 * a reader that resumes with Last-Event-ID (an id of any node of the cluster) gets what it missed
 * from this node's buffer first. A reader that falls MAX_BUFFERED bytes behind is cut off: writes
 * never wait for it.
 */
import type { ServerResponse } from 'node:http'
import type { Response } from 'express'
import { errors } from '../../core/errors.js'
import { badTypeFilter, matches, type EventFilter, type LiveEvent, type Resume } from '../../services/events.js'
import type { Ctx, Input, RawReply } from '../types.js'

/** unsent bytes above which a reader is too slow and its stream is closed */
export const MAX_BUFFERED = 1024 * 1024
/** a comment now and then keeps proxies from closing an idle stream */
const HEARTBEAT_MS = 15_000
/** what an EventSource waits before it reconnects */
const RETRY_MS = 2000

const frame = (e: LiveEvent): string => `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`

export const events = {
  async events ({ query }: Input<'events'>, { events: live }: Ctx): Promise<RawReply> {
    // the node is stopping: a reconnecting reader must not hold its HTTP server open
    if (live.closed) throw errors.busy()
    const types = query.type === undefined ? [] : Array.isArray(query.type) ? query.type : [query.type]
    const bad = badTypeFilter(types)
    if (bad !== null) throw errors.badParam(`type: ${JSON.stringify(bad)} is no event type or prefix of one`)
    const filter: EventFilter = { types, ...(query.clientid !== undefined ? { clientid: query.clientid } : {}), ...(query.username !== undefined ? { username: query.username } : {}) }
    return {
      raw: (req, res: ServerResponse) => {
        const header = req.headers['last-event-id']
        const lastId = typeof header === 'string' && header !== '' ? header : undefined
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          // nginx and others: pass each event on at once
          'x-accel-buffering': 'no'
        })
        // the stream stays open: it must not hold the API's turn on the event loop (loop-share.ts)
        ;(res as Response).locals?.releaseTurn?.()
        let closed = false
        const close = (): void => {
          if (closed) return
          closed = true
          unsubscribe()
          clearInterval(beat)
          res.end()
        }
        const send = (chunk: string): void => {
          if (closed) return
          if (res.writableLength > MAX_BUFFERED) {
            // too slow: cut off, it resumes with Last-Event-ID if it still can
            closed = true
            unsubscribe()
            clearInterval(beat)
            res.destroy()
            return
          }
          res.write(chunk)
        }
        // subscribed before the replay is read: nothing falls between the two
        const held: LiveEvent[] = []
        let replaying = true
        let fresh: Resume['fresh'] = () => true
        const unsubscribe = live.subscribe(e => {
          if (!matches(e, filter)) return
          if (replaying) held.push(e)
          // a reader that came from another node may have seen it there already
          else if (fresh(e)) send(frame(e))
        }, close)
        const beat = setInterval(() => { send(': ping\n\n') }, HEARTBEAT_MS)
        beat.unref()
        res.on('close', close)
        let out = `retry: ${RETRY_MS}\n\n`
        const resume = live.since(lastId)
        const { events: missed, gap } = resume
        fresh = resume.fresh
        if (gap) out += `event: gap\ndata: ${JSON.stringify({ last_event_id: lastId, message: 'events after this id may be missing: it is too old, or of no node of this cluster' })}\n\n`
        const seen = new Set<LiveEvent>()
        for (const e of missed) if (matches(e, filter)) { out += frame(e); seen.add(e) }
        for (const e of held) if (!seen.has(e) && fresh(e)) out += frame(e)
        replaying = false
        // the reader's position: where a later resume starts even if nothing matched yet
        if (missed.length === 0 && held.length === 0 && lastId === undefined) out += `id: ${live.lastId}\n\n`
        send(out)
      }
    }
  }
}
