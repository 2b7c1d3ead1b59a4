/**
 * GET /status (outside /api/v3 and the spec, as EMQ X serves it; no credentials): the seed's shape,
 * `?format=json` with every part (EMQX v5), and /status/live and /status/ready for orchestrators.
 */
import { Router, type Response } from 'express'
import type { Health, HealthAnswer } from '../services/health.js'
import { errors } from '../core/errors.js'
import { sendError } from './errors.js'

export function statusRouter (health: Health): Router {
  const router = Router({ strict: false })
  const send = (res: Response, a: HealthAnswer): void => {
    // an orchestrator polls this: never an answer from a cache
    res.setHeader('cache-control', 'no-store')
    res.status(a.code).json(a.body)
  }
  router.get('/', async (req, res) => {
    const format = req.query.format
    if (format !== undefined && format !== 'json') return sendError(res, errors.badParam('format must be json'))
    send(res, format === 'json' ? await health.report() : await health.status())
  })
  router.get('/live', (_req, res) => { send(res, health.live()) })
  router.get('/ready', async (_req, res) => { send(res, await health.ready()) })
  return router
}
