/**
 * Feeds the audit log (src/services/audit.ts): every POST, PUT and DELETE call and every failed
 * login, recorded when the answer has been sent ('finish'), so the request never waits for it.
 */
import type { NextFunction, Request, Response } from 'express'
import type { OperationEntry } from '../../generated/operations.js'
import { redact, type AuditEvent } from '../services/audit.js'
import { parseBasic, type Principal } from './auth.js'

const MUTATING = new Set(['POST', 'PUT', 'DELETE'])

export interface AuditSink { record: (e: AuditEvent) => void }

/** The record for one answered request, or null when it is not audited. */
export function auditEvent (req: Request, res: Response): AuditEvent | null {
  const op = res.locals.operation as OperationEntry | undefined
  if (op === undefined) return null
  const principal = res.locals.principal as Principal | undefined
  const status = res.statusCode
  // a 401 with readable credentials means they were checked and did not match; POST /auth checks a body
  const tried = parseBasic(req.headers.authorization)?.id
  const failedLogin = status === 401 && (op.secured ? tried !== undefined : op.operationId === 'auth_user')
  if (!failedLogin && !MUTATING.has(op.method)) return null
  const bodyUser = op.operationId === 'auth_user' ? (req.body as { username?: unknown } | undefined)?.username : undefined
  return {
    event: failedLogin ? 'login_failed' : 'request',
    actor: principal?.id ?? (typeof bodyUser === 'string' ? bodyUser : tried ?? 'undefined'),
    role: principal?.role ?? 'none',
    sourceIp: req.ip ?? 'undefined',
    method: op.method,
    operation: op.operationId,
    pathParams: (res.locals.pathParams as Record<string, string> | undefined) ?? {},
    // the body as it came (captureBody); a request refused before it was read has none
    body: res.locals.auditBody ?? null,
    status
  }
}

/**
 * Right after the body is parsed: a redacted copy of it as the client sent it (request validation
 * fills in the spec's defaults in place afterwards).
 */
export function captureBody (req: Request, res: Response, next: NextFunction): void {
  const op = res.locals.operation as OperationEntry | undefined
  if (op !== undefined && (MUTATING.has(op.method) || op.operationId === 'auth_user')) res.locals.auditBody = redact(req.body)
  next()
}

export function auditTrail (sink: AuditSink) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.once('finish', () => {
      const e = auditEvent(req, res)
      if (e !== null) sink.record(e)
    })
    next()
  }
}
