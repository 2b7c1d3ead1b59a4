/**
 * The HTTP side: express 5 + express-openapi-validator over openapi/v3.yaml. No listen() here.
 * Flow: canonical path + Basic auth (paths.ts, auth.ts) → JSON body → request validation →
 * the operation's handler (operations.ts) → one error handler (errors.ts).
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import helmet from 'helmet'
import * as OpenApiValidator from 'express-openapi-validator'
import type { Logger } from 'pino'
import { errorHandler, errors, sendError } from './errors.js'
import { matchPath } from './paths.js'
import { authenticate, parseBasic } from './auth.js'
import { bindOperations, type Ctx } from './operations.js'
import { loadSpec } from './spec.js'
import { swaggerUi } from './swagger.js'

export const API_BASE = '/api/v3'

export interface AppOptions {
  bodyLimit: string
  trustProxy: boolean
  corsOrigins: string[]
  validateResponses: boolean
  log: Logger
  /** GET /status: the node's state without credentials */
  status: () => Promise<{ code: number, body: unknown }>
}

export function createApp (ctx: Ctx, opts: AppOptions): express.Express {
  const app = express()
  app.disable('x-powered-by')
  // one trusted hop: req.ip is the address our proxy appended, not a left-most entry the client could forge
  app.set('trust proxy', opts.trustProxy ? 1 : false)
  app.set('query parser', 'extended')
  // no upgrade-insecure-requests: the API and Swagger UI are often served over plain HTTP on a private network
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }))
  app.use(accessLog(opts.log))
  if (opts.corsOrigins.length > 0) app.use(cors(opts.corsOrigins))

  app.get('/status', async (_req, res) => {
    const { code, body } = await opts.status()
    res.status(code).json(body)
  })
  app.use('/api-docs', swaggerUi())

  app.use(API_BASE, canonicalPath, requireAuth(ctx), requireJson)
  app.use(API_BASE, express.json({ limit: opts.bodyLimit, type: () => true, strict: false }))
  app.use(OpenApiValidator.middleware({
    apiSpec: loadSpec() as never,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
    validateResponses: opts.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    validateApiSpec: true,
    ignoreUndocumented: false,
    ignorePaths: (path: string) => !path.startsWith(API_BASE)
  }))
  app.use(API_BASE, bindOperations(ctx))
  app.use((_req, _res, next) => next(errors.notFound()))
  app.use(errorHandler(opts.log))
  return app
}

/** Rewrites /api/v3/... to the spec's canonical path (trailing slash, raw topics) before anything else. */
function canonicalPath (req: Request, _res: Response, next: NextFunction): void {
  const [path = '/', query] = req.url.split('?', 2) as [string, string | undefined]
  const m = matchPath(req.method, path)
  if (m === null || m === 'method') return next(errors.notFound())
  req.url = m.canonicalPath + (query !== undefined ? `?${query}` : '')
  req.originalUrl = API_BASE + req.url
  res(req).locals.operation = m.op
  next()
}

function res (req: Request): Response { return req.res as Response }

function requireAuth (ctx: Ctx) {
  return async (req: Request, response: Response, next: NextFunction): Promise<void> => {
    if (!response.locals.operation?.secured) return next()
    const creds = parseBasic(req.headers.authorization)
    const principal = creds ? await authenticate(ctx.store, creds.id, creds.secret) : null
    if (!principal) return sendError(response, errors.unauthorized())
    response.locals.principal = principal
    next()
  }
}

/** Only application/json bodies where a body is expected: also blocks cross-site form posts. */
function requireJson (req: Request, response: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
  if (hasBody && !req.is('application/json')) return sendError(response, errors.unsupportedMediaType())
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

/** CORS only for configured origins, never `*` with credentials. */
function cors (origins: string[]) {
  const allowed = new Set(origins)
  return (req: Request, response: Response, next: NextFunction): void => {
    const origin = req.headers.origin
    if (origin && allowed.has(origin)) {
      response.setHeader('Access-Control-Allow-Origin', origin)
      response.setHeader('Vary', 'Origin')
      response.setHeader('Access-Control-Allow-Credentials', 'true')
      response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      response.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE')
      if (req.method === 'OPTIONS') { response.status(204).end(); return }
    }
    next()
  }
}
