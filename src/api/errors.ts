/**
 * The one error catalog. Every error answers `{"message": "<reason>", "code": <n>}` with an honest
 * HTTP status (DECISIONS.md "Errors"); codes are EMQ X's result codes (include/emqx_mgmt.hrl).
 * openapi/README.md lists the same table; test/unit/errors.test.ts keeps the two in step.
 */
import type { ErrorRequestHandler } from 'express'
import { StoreUnavailableError } from '../store/store.js'

export const ReturnCode = {
  SUCCESS: 0,
  BADRPC: 101,
  UNKNOWN_ERROR: 102,
  BAD_CREDENTIALS: 103,
  EMPTY_CREDENTIALS: 104,
  USER_NOT_FOUND: 105,
  ADMIN_UNDELETABLE: 106,
  MISSING_PARAMETER: 107,
  BAD_PARAMETER: 108,
  NOT_JSON: 109,
  PLUGIN_ALREADY_STARTED: 110,
  PLUGIN_NOT_STARTED: 111,
  CLIENT_NOT_ONLINE: 112,
  USER_EXISTS: 113,
  OLD_PASSWORD_WRONG: 114,
  BAD_TOPIC: 115
} as const
export type ReturnCodeValue = typeof ReturnCode[keyof typeof ReturnCode]

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: ReturnCodeValue, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'ApiError'
  }
}

export const REALM = 'emqx-v3-api'

export const errors = {
  missing: (what: string) => new ApiError(400, ReturnCode.MISSING_PARAMETER, what),
  badParam: (what: string) => new ApiError(400, ReturnCode.BAD_PARAMETER, what),
  badParamCode: (what: string, code: ReturnCodeValue) => new ApiError(400, code, what),
  notJson: (what = 'request body is not valid JSON') => new ApiError(400, ReturnCode.NOT_JSON, what),
  badTopic: (what = 'bad_topic') => new ApiError(400, ReturnCode.BAD_TOPIC, what),
  unauthorized: () => new ApiError(401, ReturnCode.BAD_CREDENTIALS, 'unauthorized', { 'WWW-Authenticate': `Basic realm="${REALM}"` }),
  notFound: (what = 'not_found', code: ReturnCodeValue = ReturnCode.UNKNOWN_ERROR) => new ApiError(404, code, what),
  clientNotFound: () => new ApiError(404, ReturnCode.CLIENT_NOT_ONLINE, 'not_found'),
  userNotFound: () => new ApiError(404, ReturnCode.USER_NOT_FOUND, 'user_not_found'),
  conflict: (what: string, code: ReturnCodeValue = ReturnCode.UNKNOWN_ERROR) => new ApiError(409, code, what),
  tooLarge: () => new ApiError(413, ReturnCode.UNKNOWN_ERROR, 'body_too_large'),
  unsupportedMediaType: () => new ApiError(415, ReturnCode.NOT_JSON, 'content type must be application/json'),
  tooManyRequests: (retryAfterSec: number) => new ApiError(429, ReturnCode.UNKNOWN_ERROR, 'too_many_requests', { 'Retry-After': String(retryAfterSec) }),
  storeUnavailable: () => new ApiError(503, ReturnCode.UNKNOWN_ERROR, 'store_unavailable'),
  busy: () => new ApiError(503, ReturnCode.UNKNOWN_ERROR, 'busy', { 'Retry-After': '1' })
}

interface ValidatorError { status?: number, errors?: Array<{ path?: string, message?: string, errorCode?: string }>, message?: string }

/** express-openapi-validator errors carry `status` and `errors[]`; map them to the catalog. */
function fromValidator (err: ValidatorError): ApiError | null {
  if (typeof err.status !== 'number' || !Array.isArray(err.errors)) return null
  const first = err.errors[0]
  const where = first?.path?.replace(/^\/(body|query|params|path)\/?/, '$1 ').trim() ?? ''
  const message = [where, first?.message].filter(Boolean).join(' ') || (err.message ?? 'bad request')
  switch (err.status) {
    case 400: return first?.errorCode === 'required.openapi.validation'
      ? errors.missing(message)
      : errors.badParam(message)
    case 401: return errors.unauthorized()
    case 404: return errors.notFound()
    case 405: return errors.notFound()
    case 413: return errors.tooLarge()
    case 415: return errors.unsupportedMediaType()
    default: return null
  }
}

/** body-parser errors: malformed JSON, too large, bad charset. */
function fromBodyParser (err: { type?: string, status?: number }): ApiError | null {
  switch (err.type) {
    case 'entity.parse.failed': return errors.notJson()
    case 'entity.too.large': return errors.tooLarge()
    case 'charset.unsupported':
    case 'encoding.unsupported': return errors.unsupportedMediaType()
    default: return null
  }
}

export function toApiError (err: unknown): ApiError | null {
  if (err instanceof ApiError) return err
  if (err instanceof StoreUnavailableError) return errors.storeUnavailable()
  if (typeof err === 'object' && err !== null) {
    return fromBodyParser(err as { type?: string }) ?? fromValidator(err as ValidatorError)
  }
  return null
}

export function sendError (res: import('express').Response, e: ApiError): void {
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v)
  res.status(e.status).json({ message: e.message, code: e.code })
}

export function errorHandler (log: { error (o: object, msg?: string): void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toApiError(err)
    if (e) return sendError(res, e)
    // a bug, not bad input: log it whole, answer without internals
    log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error')
    if (!res.headersSent) res.status(500).json({ message: 'internal_error', code: ReturnCode.UNKNOWN_ERROR })
  }
}
