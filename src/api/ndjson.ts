/**
 * `Accept: application/x-ndjson` on a list: the whole filtered, sorted list (from `_cursor` when
 * given) as one JSON row per line, without paging. Written in chunks of about 64 KB that wait for
 * the socket to drain, so a 100,000-row export neither builds one giant string nor floods memory.
 */
import type { Request, Response } from 'express'
import { ALL_ROWS } from './query.js'

export const NDJSON = 'application/x-ndjson'
const CHUNK = 64 * 1024

export function wantsNdjson (req: Request): boolean {
  return req.accepts(['application/json', NDJSON]) === NDJSON
}

/** the query a list handler gets for a stream: the validated one, with every row asked for */
export function streamQuery (query: unknown): unknown {
  return { ...(query as object), [ALL_ROWS]: true }
}

export async function writeNdjson (res: Response, page: { items: readonly unknown[] }): Promise<void> {
  res.status(200).type(NDJSON)
  let buf = ''
  for (const row of page.items) {
    buf += JSON.stringify(row) + '\n'
    if (buf.length >= CHUNK) {
      if (!res.write(buf)) await drained(res)
      buf = ''
      if (res.destroyed) return
    }
  }
  res.end(buf)
}

/** The socket took the buffered chunk, or the client went away; neither listener outlives the wait. */
function drained (res: Response): Promise<void> {
  return new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}
