/**
 * The HTTP side: express 5 + express-openapi-validator over openapi/v3.yaml. No listen() here.
 * Flow: canonical path + audit trail (audit.ts) + Basic auth (auth.ts) + role (roles.ts) → JSON
 * body → request validation → no role escalation (roles.ts) → the operation's handler
 * (operations.ts) → one error handler (errors.ts).
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import helmet from 'helmet'
import * as OpenApiValidator from 'express-openapi-validator'
import type { Logger } from 'pino'
import { errorHandler, sendError } from './errors.js'
import { errors } from '../core/errors.js'
import { matchPath, repeatedQueryKey } from './paths.js'
import { authenticate, parseBasic } from './auth.js'
import { AuthLimiter, type AuthLimiterOptions } from './auth-limiter.js'
import { HELMET_OPTIONS } from './client-error.js'
import { bindOperations } from './operations.js'
import type { Ctx } from './types.js'
import { LoopShare, type LoopShareOptions } from './loop-share.js'
import { loadSpec } from './spec.js'
import { swaggerUi } from './swagger.js'
import { auditTrail, captureBody } from './audit.js'
import { noEscalation, requireRole } from './roles.js'
import { statusRouter } from './status.js'
import type { Health } from '../services/health.js'

export const API_BASE = '/api/v3'

export interface AppOptions {
  bodyLimit: string
  trustProxy: boolean
  corsOrigins: string[]
  validateResponses: boolean
  log: Logger
  /** GET /status, /status/live, /status/ready: the node's health without credentials */
  health: Health
  /** brute-force brake on credential checks; defaults: 10 failures in 60 s lock an address for 60 s, doubling */
  authLimit?: Partial<AuthLimiterOptions>
  /** cluster peers' calls (src/cluster/rpc.ts), under /internal; absent (404) when clustering is off */
  internal?: express.Router | undefined
  /** operations that need no credentials at the moment (a scrape while `prometheus.auth` is false) */
  openAccess?: (operationId: string) => boolean
  /** the most of the event loop the API takes while the broker is busy; absent: no limit */
  loopShare?: LoopShareOptions | undefined
}

export function createApp (ctx: Ctx, opts: AppOptions): express.Express {
  const app = express()
  app.disable('x-powered-by')
  // one trusted hop: req.ip is the address our proxy appended, not a left-most entry the client could forge
  app.set('trust proxy', opts.trustProxy ? 1 : false)
  app.set('query parser', 'extended')
  // no upgrade-insecure-requests: the API and Swagger UI are often served over plain HTTP on a private network
  // first, so the API's turn on the event loop pays for everything the request runs here
  if (opts.loopShare !== undefined) app.use(API_BASE, takeTurn(new LoopShare(opts.loopShare)))
  app.use(helmet(HELMET_OPTIONS))
  app.use(accessLog(opts.log))
  if (opts.corsOrigins.length > 0) app.use(cors(opts.corsOrigins))

  app.use('/status', statusRouter(opts.health))
  app.use('/api-docs', swaggerUi())
  if (opts.internal !== undefined) app.use('/internal', opts.internal)

  const limiter = new AuthLimiter(opts.authLimit)
  app.use(API_BASE, canonicalPath, auditTrail(ctx.audit), requireAuth(ctx, limiter, opts.openAccess ?? (() => false)), roleUnlessOpen, requireJson)
  app.use(API_BASE, express.json({ limit: opts.bodyLimit, type: () => true, strict: false }), captureBody)
  app.use(OpenApiValidator.middleware({
    apiSpec: loadSpec() as never,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
    validateResponses: opts.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    validateApiSpec: true,
    ignoreUndocumented: false,
    ignorePaths: (path: string) => !path.startsWith(API_BASE)
  }))
  app.use(API_BASE, noEscalation, secretCheckBrake(limiter), bindOperations(ctx))
  app.use((_req, _res, next) => next(errors.notFound()))
  app.use(errorHandler(opts.log))
  return app
}

/** Rewrites /api/v3/... to the spec's canonical path (trailing slash, raw topics) before anything else. */
function canonicalPath (req: Request, _res: Response, next: NextFunction): void {
  const [path = '/', query] = req.url.split('?', 2) as [string, string | undefined]
  const m = matchPath(req.method, path)
  if (m === null || m === 'method') return next(errors.notFound())
  const repeated = query === undefined ? null : repeatedQueryKey(query, m.op.operationId)
  if (repeated !== null) return next(errors.badParam(`query parameter ${repeated} must be given once, as a plain key`))
  req.url = m.canonicalPath + (query !== undefined ? `?${query}` : '')
  req.originalUrl = API_BASE + req.url
  res(req).locals.operation = m.op
  res(req).locals.pathParams = m.params
  next()
}

function res (req: Request): Response { return req.res as Response }

/** Each API request waits for the API's turn on the event loop (loop-share.ts); a full queue is 503 busy. */
function takeTurn (gate: LoopShare) {
  return (req: Request, response: Response, next: NextFunction): void => {
    const admitted = gate.admit((done) => {
      // the client may have gone while it waited: nothing to answer
      if (req.socket.destroyed) return done()
      // 'prefinish' comes inside res.end(), when the answer is made: its cost, without the flush;
      // 'close' covers a request aborted before that
      response.once('prefinish', done)
      response.once('close', done)
      // a stream that stays open (GET /events) gives the turn back once it has started
      response.locals.releaseTurn = done
      next()
    })
    if (!admitted) sendError(response, errors.busy())
  }
}

/** An operation open at the moment (openAccess) has no caller to check a role of. */
function roleUnlessOpen (req: Request, response: Response, next: NextFunction): void {
  if (response.locals.openAccess === true) return next()
  requireRole(req, response, next)
}

function requireAuth (ctx: Ctx, limiter: AuthLimiter, openAccess: (operationId: string) => boolean) {
  return async (req: Request, response: Response, next: NextFunction): Promise<void> => {
    const op = response.locals.operation
    if (op?.secured === true && openAccess(op.operationId)) {
      response.locals.openAccess = true
      return next()
    }
    if (!op?.secured) return next()
    // a locked-out address is refused before any credential check, so guessing costs it nothing but time
    const wait = limiter.retryAfter(req.ip)
    if (wait > 0) return sendError(response, errors.tooManyRequests(wait))
    const creds = parseBasic(req.headers.authorization)
    // no (or unreadable) credentials is not a guess: only checked credentials count as failures
    if (!creds) return sendError(response, errors.unauthorized())
    const principal = await authenticate(ctx.store, creds.id, creds.secret)
    if (!principal) {
      limiter.failure(req.ip)
      return sendError(response, errors.unauthorized())
    }
    limiter.success(req.ip)
    response.locals.principal = principal
    next()
  }
}

/**
 * POST /auth and the old password of PUT /change_pwd check a secret too: the same brake as Basic
 * auth. It runs after request validation, so a malformed body is a 400 that costs no attempt.
 */
function secretCheckBrake (limiter: AuthLimiter) {
  return (req: Request, response: Response, next: NextFunction): void => {
    const op = response.locals.operation?.operationId
    if (op !== 'auth_user' && op !== 'change_pwd') return next()
    const wait = limiter.retryAfter(req.ip)
    if (wait > 0) return sendError(response, errors.tooManyRequests(wait))
    response.once('finish', () => {
      // past validation, a 401 from /auth is a wrong password or unknown user, a 400 from change_pwd a wrong old_pwd
      if ((op === 'auth_user' && response.statusCode === 401) || (op === 'change_pwd' && response.statusCode === 400)) limiter.failure(req.ip)
      else if (op === 'auth_user' && response.statusCode === 200) limiter.success(req.ip)
    })
    next()
  }
}

/**
 * Only application/json bodies where a body is expected: also blocks cross-site form and text/plain
 * posts, whatever the method. A body on an operation whose spec has none is a 400 (never silently
 * ignored), refused before it is read.
 */
function requireJson (req: Request, response: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
  if (!hasBody) {
    // clients (the SDK too) send Content-Type: application/json with no body; for an optional body
    // that is "none", not an empty document the validator would hold against the body's schema
    if (response.locals.operation?.bodyOptional === true) delete req.headers['content-type']
    return next()
  }
  if (!req.is('application/json')) return sendError(response, errors.unsupportedMediaType())
  if (response.locals.operation?.hasBody === false) return sendError(response, errors.badParam('this operation takes no request body'))
  next()
}

function accessLog (log: Logger) {
  return (req: Request, response: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint()
    response.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      log.info({ method: req.method, url: req.originalUrl, status: response.statusCode, ms: Math.round(ms * 10) / 10, ip: req.ip }, 'http')
    })
    next()
  }
}

/**
 * CORS only for configured origins, echoed one by one, never `*` (a configured `*` matches nothing:
 * a wildcard with credentials would let any site drive the API with a logged-in browser).
 */
function cors (origins: string[]) {
  const allowed = new Set(origins.filter(o => o !== '*'))
  return (req: Request, response: Response, next: NextFunction): void => {
    const origin = req.headers.origin
    // the answer depends on Origin whether or not it is allowed: caches must keep them apart
    response.vary('Origin')
    if (origin && allowed.has(origin)) {
      response.setHeader('Access-Control-Allow-Origin', origin)
      response.setHeader('Access-Control-Allow-Credentials', 'true')
      response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      response.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE')
      if (req.method === 'OPTIONS') { response.status(204).end(); return }
    }
    next()
  }
}
