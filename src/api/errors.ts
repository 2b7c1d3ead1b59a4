/** Maps whatever a request ran into (catalog errors, validator and body-parser errors, an unreachable store) to the catalog's answer. */
import type { ErrorRequestHandler } from 'express'
import { StoreUnavailableError } from '../store/store.js'
import { ApiError, ReturnCode, errors } from '../core/errors.js'

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
