/**
 * Node-to-node calls: `POST /internal/rpc` with `{"method": "...", "args": [...]}`, outside
 * /api/v3 and the spec (no operator ever calls it). Authenticated by CLUSTER_SECRET in the
 * `x-cluster-secret` header; mounted only when clustering is on, so otherwise the path is a 404.
 * Answers `{"result": ...}`, or `{"error": {status, code, message}}` with that status, so an
 * ApiError thrown on the peer (404 plugin_not_found, 409 already_started, ...) reaches the caller
 * unchanged.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import { ApiError, ReturnCode, errors, type ReturnCodeValue } from '../core/errors.js'
import { StoreUnavailableError } from '../store/store.js'
import type { NodeApi } from './cluster.js'

export const RPC_PATH = '/rpc'
export const SECRET_HEADER = 'x-cluster-secret'
/** a peer that takes longer is treated as down for this request (its heartbeat decides membership) */
export const RPC_TIMEOUT_MS = 5000

/** NodeApi methods a peer may call, plus the cluster's own (refreshBans, refreshAcl). */
export const RPC_METHODS = [
  'brokerInfo', 'nodeInfo', 'connections', 'connection', 'sessions', 'session', 'subscriptions',
  'subscriptionsOf', 'routes', 'routesOf', 'listeners', 'metrics', 'stats', 'alarms', 'activatedAlarms', 'deactivateAlarm', 'prometheus', 'prometheusText', 'plugins',
  'loadPlugin', 'unloadPlugin', 'pluginConfigs', 'setPluginConfigs', 'configs', 'setConfig',
  'kickout', 'cleanAclCache', 'discardSession', 'retainedMessages', 'removeRetained', 'subscribe', 'unsubscribe', 'refreshBans', 'refreshAcl',
  'kickoutMany', 'hasSubscriber', 'sessionMessages'
] as const satisfies ReadonlyArray<keyof NodeApi | keyof RpcExtras>
export type RpcMethod = typeof RPC_METHODS[number]

/** The cluster-only calls, beside the LocalNode's. */
export interface RpcExtras { refreshBans: () => Promise<void>, refreshAcl: () => Promise<void> }

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Constant-time: equal-length digests, so neither length nor content leaks through timing. */
export function secretMatches (given: string | undefined, secret: string): boolean {
  return timingSafeEqual(digest(given ?? ''), digest(secret)) && given !== undefined
}

export function rpcRouter (local: NodeApi, extras: RpcExtras, secret: string): Router {
  const router = express.Router()
  const allowed = new Set<string>(RPC_METHODS)
  router.post(RPC_PATH, (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers[SECRET_HEADER]
    if (!secretMatches(typeof header === 'string' ? header : undefined, secret)) {
      res.status(401).json({ error: { status: 401, code: ReturnCode.BAD_CREDENTIALS, message: 'unauthorized' } })
      return
    }
    next()
  }, express.json({ limit: '1mb' }), async (req: Request, res: Response) => {
    const { method, args } = (req.body ?? {}) as { method?: unknown, args?: unknown }
    if (typeof method !== 'string' || !allowed.has(method) || !Array.isArray(args)) {
      res.status(400).json({ error: { status: 400, code: ReturnCode.BAD_PARAMETER, message: 'bad rpc request' } })
      return
    }
    try {
      const m = method as RpcMethod
      const result = m === 'refreshBans' || m === 'refreshAcl'
        ? await extras[m]()
        : await (local[m] as (...a: unknown[]) => Promise<unknown>).apply(local, args)
      res.json(result === undefined ? {} : { result })
    } catch (err) {
      const e = err instanceof ApiError ? err : err instanceof StoreUnavailableError ? errors.storeUnavailable() : new ApiError(500, ReturnCode.UNKNOWN_ERROR, 'internal_error')
      res.status(e.status).json({ error: { status: e.status, code: e.code, message: e.message } })
    }
  })
  return router
}

/** Calls `method` on the peer at apiUrl; its ApiErrors are rethrown as such, anything else is badrpc. */
export async function rpcCall<T> (apiUrl: string, secret: string, method: RpcMethod, args: unknown[], timeoutMs = RPC_TIMEOUT_MS): Promise<T> {
  let res: globalThis.Response
  let body: { result?: T, error?: { status?: unknown, code?: unknown, message?: unknown } }
  try {
    res = await fetch(`${apiUrl}/internal${RPC_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SECRET_HEADER]: secret },
      body: JSON.stringify({ method, args }),
      signal: AbortSignal.timeout(timeoutMs)
    })
    body = await res.json() as typeof body
  } catch {
    throw errors.badRpc()
  }
  const e = body.error
  if (res.ok && e === undefined) return body.result as T
  // 401: the peer's secret differs; 404: not a cluster node; both mean it cannot be asked
  if (e === undefined || typeof e.status !== 'number' || e.status === 401 || e.status >= 500) throw errors.badRpc()
  return Promise.reject(new ApiError(e.status, Number(e.code) as ReturnCodeValue, String(e.message)))
}
