/**
 * HTTP load generator (a child process of bench/run.ts, driven over IPC): `concurrency` keep-alive
 * connections, each sending its next request as soon as the previous answer is read (closed loop), or,
 * with `ratePerSec`, requests paced at that rate (an API that is polled, not hammered).
 */
import http from 'node:http'
import { serveJobs } from '../lib/proc.js'
import { sleep } from '../../test/support/wait.js'
import { Reservoir } from '../lib/stats.js'

export interface HttpJob {
  kind: 'http'
  url: string
  method: 'GET' | 'POST'
  /** user:password for Basic auth */
  auth: string
  /** a JSON body; in it, `{{seq}}` is replaced by a number unique to the request */
  body?: string
  concurrency: number
  durationMs: number
  ratePerSec?: number
}

export interface HttpResult {
  requests: number
  perSec: number
  latencyMs: { p50: number, p99: number, max: number, n: number }
  /** answers that were not 2xx, and transport errors */
  errors: number
  statuses: Record<string, number>
}

let seq = 0

function once (agent: http.Agent, job: HttpJob, url: URL, authz: string): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { authorization: authz }
    let body: string | undefined
    if (job.body !== undefined) {
      body = job.body.replaceAll('{{seq}}', String(++seq))
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: job.method, headers }, (res) => {
      res.on('data', () => {})
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', () => resolve(-1))
    })
    req.on('error', () => resolve(-1))
    req.end(body)
  })
}

async function run (job: HttpJob): Promise<HttpResult> {
  const url = new URL(job.url)
  const authz = 'Basic ' + Buffer.from(job.auth).toString('base64')
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency })
  const lat = new Reservoir()
  const statuses: Record<string, number> = {}
  let errors = 0
  let requests = 0
  const t0 = performance.now()
  const until = t0 + job.durationMs
  const one = async (): Promise<void> => {
    const start = performance.now()
    const status = await once(agent, job, url, authz)
    lat.add(performance.now() - start)
    requests++
    statuses[status] = (statuses[status] ?? 0) + 1
    if (status < 200 || status > 299) errors++
  }
  if (job.ratePerSec !== undefined) {
    const gap = 1000 / job.ratePerSec
    const inFlight = new Set<Promise<void>>()
    for (let k = 0; t0 + k * gap < until; k++) {
      const wait = t0 + k * gap - performance.now()
      if (wait > 0) await sleep(wait)
      const p = one().finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    await Promise.all(inFlight)
  } else {
    await Promise.all(Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < until) await one()
    }))
  }
  const seconds = (performance.now() - t0) / 1000
  agent.destroy()
  return { requests, perSec: requests / seconds, latencyMs: lat.summary(), errors, statuses }
}

serveJobs(async (job) => {
  if (job.kind !== 'http') throw new Error(`unknown job ${job.kind}`)
  return run(job as unknown as HttpJob)
})
