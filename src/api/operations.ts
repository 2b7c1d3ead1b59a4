/**
 * Binds every operation of the spec to its handler. `satisfies Handlers<Ctx>` (generated from the
 * spec) makes a missing handler, an extra one, or a wrong reply shape a compile error.
 */
import { Router, type NextFunction, type Request, type Response } from 'express'
import { operations } from '../../generated/operations.js'
import type { Ctx, Handlers, OperationId } from './types.js'
import { streamQuery, wantsNdjson, writeNdjson } from './ndjson.js'
import { apiIndex } from './handlers/api-index.js'
import { brokers } from './handlers/brokers.js'
import { nodes } from './handlers/nodes.js'
import { connections } from './handlers/connections.js'
import { sessions } from './handlers/sessions.js'
import { subscriptions } from './handlers/subscriptions.js'
import { routes } from './handlers/routes.js'
import { retainer } from './handlers/retainer.js'
import { pubsub } from './handlers/pubsub.js'
import { plugins } from './handlers/plugins.js'
import { listeners } from './handlers/listeners.js'
import { metrics } from './handlers/metrics.js'
import { stats } from './handlers/stats.js'
import { configs } from './handlers/configs.js'
import { alarms } from './handlers/alarms.js'
import { banned } from './handlers/banned.js'
import { acl } from './handlers/acl.js'
import { apps } from './handlers/apps.js'
import { users } from './handlers/users.js'
import { audit } from './handlers/audit.js'
import { prometheus } from './handlers/prometheus.js'
import { alarmHistory } from './handlers/alarm-history.js'
import { events } from './handlers/events.js'
import { data } from './handlers/data.js'
import { isRawReply } from './raw.js'

export const handlers = {
  ...apiIndex,
  ...brokers,
  ...nodes,
  ...connections,
  ...sessions,
  ...subscriptions,
  ...routes,
  ...retainer,
  ...pubsub,
  ...plugins,
  ...listeners,
  ...metrics,
  ...stats,
  ...configs,
  ...alarms,
  ...banned,
  ...acl,
  ...apps,
  ...users,
  ...audit,
  ...prometheus,
  ...alarmHistory,
  ...events,
  ...data
} satisfies Handlers<Ctx>

type AnyHandler = (input: { path: unknown, query: unknown, body: unknown }, ctx: Ctx) => Promise<unknown>

export function bindOperations (ctx: Ctx): Router {
  const router = Router({ strict: false })
  for (const op of operations) {
    const fn = (handlers as Record<OperationId, AnyHandler>)[op.operationId]
    const method = op.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'
    router[method](op.expressPath, async (req: Request, res: Response, next: NextFunction) => {
      // paths.ts chose the operation (literal paths before templates): /alarms/activated is not /alarms/{node}
      if (res.locals.operation?.operationId !== op.operationId) return next()
      // Express 5 forwards a rejected promise to the error handler
      if (op.paginated && wantsNdjson(req)) {
        await writeNdjson(res, await fn({ path: req.params, query: streamQuery(req.query), body: req.body }, ctx) as { items: unknown[] })
        return
      }
      const reply = await fn({ path: req.params, query: req.query, body: req.body }, ctx)
      if (isRawReply(reply)) reply.raw(req, res)
      else res.json(reply)
    })
  }
  return router
}
