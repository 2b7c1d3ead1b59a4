/**
 * The one place API roles are enforced, from the spec: each operation's `x-required-role` (in the
 * generated operation table) against the authenticated caller's role. No handler checks a role.
 */
import type { NextFunction, Request, Response } from 'express'
import { errors } from '../core/errors.js'
import { covers, isRole, type Role } from '../core/roles.js'
import type { OperationEntry } from '../../generated/operations.js'
import type { Principal } from './auth.js'
import { sendError } from './errors.js'

/** whether `caller` may call `op` */
export function allows (op: OperationEntry, caller: Principal | undefined): boolean {
  if (op.requiredRole === 'none') return true
  // requireAuth ran before: a secured operation without a caller never gets here
  return caller !== undefined && covers(caller.role, op.requiredRole)
}

/**
 * The role a request body asks for (a user's or app's `role`, or the schema's default when it
 * has none); null when the body gives no role.
 */
export function requestedRole (op: OperationEntry, body: unknown): Role | null {
  if (!op.roleInBody) return null
  const asked = typeof body === 'object' && body !== null ? (body as { role?: unknown }).role : undefined
  if (asked === undefined) return op.defaultBodyRole
  // the validator has checked the value; anything else asks for the most
  return isRole(asked) ? asked : 'administrator'
}

/** After authentication, before the body is read: the caller's role must cover the operation's. */
export function requireRole (_req: Request, res: Response, next: NextFunction): void {
  const op = res.locals.operation as OperationEntry | undefined
  if (op !== undefined && !allows(op, res.locals.principal as Principal | undefined)) return sendError(res, errors.forbidden())
  next()
}

/** After validation: nobody creates or raises a user or app above their own role. */
export function noEscalation (req: Request, res: Response, next: NextFunction): void {
  const op = res.locals.operation as OperationEntry | undefined
  const caller = res.locals.principal as Principal | undefined
  const asked = op === undefined ? null : requestedRole(op, req.body)
  if (asked !== null && (caller === undefined || !covers(caller.role, asked))) return sendError(res, errors.forbidden())
  next()
}
