/** Answers that are not JSON: the operation's handler returns one of these and bindOperations runs it. */
import type { RawReply } from './types.js'

export function isRawReply (x: unknown): x is RawReply {
  return typeof x === 'object' && x !== null && typeof (x as { raw?: unknown }).raw === 'function'
}

/** A text body of the given media type. */
export function rawText (contentType: string, body: string): RawReply {
  return {
    raw: (_req, res) => {
      res.setHeader('content-type', contentType)
      res.end(body)
    }
  }
}
