/**
 * Answers for requests Node's HTTP parser rejects before express sees them (request head over
 * `maxHeaderSize` → 431, malformed HTTP → 400, head too slow → 408): the same JSON error body and
 * security headers as every other answer, a Content-Length, and a graceful close. Node's default
 * writes a bare status line and destroys the socket with the rest of the request unread, which
 * makes the kernel send a reset that can discard the answer before the client reads it.
 *
 * Wire it on the http server: `server.on('clientError', handleClientError)`.
 */
import type { Duplex } from 'node:stream'
import helmet from 'helmet'
import { ReturnCode } from '../core/errors.js'

/** The helmet options of the app (app.ts uses the same, so both kinds of answer carry the same headers). */
export const HELMET_OPTIONS = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } } as const

/** helmet's headers, collected once by running the middleware against a stand-in response. */
function collectSecurityHeaders (): Array<[string, string]> {
  const headers = new Map<string, string>()
  const res = {
    setHeader (k: string, v: string | number | readonly string[]) { headers.set(k, String(v)) },
    removeHeader (k: string) { headers.delete(k) }
  }
  helmet(HELMET_OPTIONS)({} as never, res as never, () => {})
  return [...headers]
}

let securityHeaders: Array<[string, string]> | undefined

const ANSWERS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request_header_fields_too_large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'body_too_large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout']
}

/** How long a rejected connection may keep sending before it is cut. */
const DRAIN_MS = 2000

export function handleClientError (err: Error & { code?: string }, socket: Duplex): void {
  const bytesWritten = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0
  // the peer is gone, or an answer has started: nothing sane can be written any more
  if (err.code === 'ECONNRESET' || !socket.writable || bytesWritten > 0) {
    socket.destroy()
    return
  }
  const [status, reason, message] = ANSWERS[err.code ?? ''] ?? [400, 'Bad Request', 'bad_request']
  const body = JSON.stringify({ message, code: ReturnCode.UNKNOWN_ERROR })
  securityHeaders ??= collectSecurityHeaders()
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    ...securityHeaders.map(([k, v]) => `${k}: ${v}`),
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close'
  ]
  socket.end(head.join('\r\n') + '\r\n\r\n' + body)
  // read (and drop) what the client still sends, so that closing does not reset the connection
  socket.resume()
  setTimeout(() => socket.destroy(), DRAIN_MS).unref()
}
