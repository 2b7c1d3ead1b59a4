/**
 * Scenario 3: the API under load. Our node holds N clients with 2 subscriptions each; every endpoint
 * is measured alone (one connection: latency) and hammered (8 connections: requests/s). Then QoS 0
 * fan-in throughput without API load, with the API hammered, with the API polled (20 req/s), and
 * while Prometheus scrapes /prometheus/stats once a second.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { sleep } from '../../test/support/wait.js'
import { ratio, spread, type Spread } from '../lib/stats.js'
import { startSystem } from '../systems.js'
import type { ConnectResult, ThroughputResult } from '../workers/mqtt-load.js'
import type { HttpJob, HttpResult } from '../workers/http-load.js'
import { CASES, measure, throughputJob } from './throughput.js'

export interface Endpoint { id: string, method: 'GET' | 'POST', path: string, body?: string }

export interface EndpointStats {
  /** one connection, closed loop */
  p50Ms: Spread
  p99Ms: Spread
  /** 8 connections, closed loop */
  perSec: Spread
  p99At8Ms: Spread
  errors: number
}

export interface ApiResult {
  clients: number
  subscriptions: number
  endpoints: Array<Endpoint & EndpointStats>
  /** QoS 0 fan-in 64 B deliveries/s */
  mqttUnderApi: {
    idle: Spread
    hammered: Spread
    polled: Spread
    /** while GET /prometheus/stats is scraped once a second */
    scraped: Spread
    apiPerSecWhileHammered: Spread
    hammeredRatio: number
    polledRatio: number
    scrapedRatio: number
    lost: number
  }
  /** deep page latency / first page latency (p99) */
  deepPageRatio: number
}

export function endpoints (n: number): Endpoint[] {
  const deep = Math.min(90, Math.max(2, Math.floor(n / 100) - 1))
  return [
    { id: 'connections page 1', method: 'GET', path: '/connections/?_page=1&_limit=100' },
    { id: `connections page ${deep}`, method: 'GET', path: `/connections/?_page=${deep}&_limit=100` },
    { id: 'subscriptions', method: 'GET', path: '/subscriptions/' },
    { id: 'stats', method: 'GET', path: '/stats/' },
    { id: 'metrics', method: 'GET', path: '/metrics/' },
    { id: 'prometheus scrape', method: 'GET', path: '/prometheus/stats' },
    { id: 'mqtt/publish', method: 'POST', path: '/mqtt/publish', body: '{"topic":"bench/api/{{seq}}","payload":"hello","qos":0}' }
  ]
}

function httpJob (api: string, e: Endpoint, concurrency: number, durationMs: number, ratePerSec?: number): HttpJob {
  const job: HttpJob = { kind: 'http', url: api + e.path, method: e.method, auth: 'admin:public', concurrency, durationMs }
  if (e.body !== undefined) job.body = e.body
  if (ratePerSec !== undefined) job.ratePerSec = ratePerSec
  return job
}

export async function runApi (ctx: Ctx): Promise<ApiResult> {
  const n = ctx.p.connections
  const opts = ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }
  const s = await startSystem('ours', ctx.runtime, opts)
  const api = s.api as string
  try {
    const held = await ctx.holder.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: tag('a'), n, concurrency: 100, subscriptions: 2, qos: 1 })
    ctx.log(`  ${held.connected} clients with ${held.connected * 2} subscriptions in ${Math.round(held.ms)} ms${held.failed > 0 ? ` (${held.failed} failed: ${held.firstError ?? ''})` : ''}`)
    await sleep(1000)
    const eps = endpoints(n)
    const rounds = ctx.p.smallRounds
    const out: Array<Endpoint & EndpointStats> = []
    // warm-up: each endpoint briefly
    for (const e of eps) await ctx.http.call<HttpResult>(httpJob(api, e, 2, 300))
    const one = new Map<string, HttpResult[]>()
    const eight = new Map<string, HttpResult[]>()
    for (let r = 0; r < rounds; r++) {
      for (const e of rotate(eps, r)) {
        const a = await ctx.http.call<HttpResult>(httpJob(api, e, 1, ctx.p.httpMs))
        const b = await ctx.http.call<HttpResult>(httpJob(api, e, 8, ctx.p.httpMs))
        one.set(e.id, [...one.get(e.id) ?? [], a])
        eight.set(e.id, [...eight.get(e.id) ?? [], b])
      }
    }
    for (const e of eps) {
      const a = one.get(e.id) ?? []
      const b = eight.get(e.id) ?? []
      const st: EndpointStats = {
        p50Ms: spread(a.map(x => x.latencyMs.p50)),
        p99Ms: spread(a.map(x => x.latencyMs.p99)),
        perSec: spread(b.map(x => x.perSec)),
        p99At8Ms: spread(b.map(x => x.latencyMs.p99)),
        errors: [...a, ...b].reduce((acc, x) => acc + x.errors, 0)
      }
      ctx.log(`  ${e.method} ${e.path}: p50 ${st.p50Ms.median.toFixed(2)} ms, p99 ${st.p99Ms.median.toFixed(2)} ms, ${Math.round(st.perSec.median)} req/s at 8 conns${st.errors > 0 ? `, ${st.errors} errors` : ''}`)
      out.push({ ...e, ...st })
    }

    // MQTT throughput with and without API load
    const c = CASES[0]
    if (c === undefined) throw new Error('no throughput case')
    const hammerEp = eps[0] as (typeof eps)[number]
    const idle: number[] = []
    const hammered: number[] = []
    const polled: number[] = []
    const scraped: number[] = []
    const scrapeEp = eps.find(e => e.id === 'prometheus scrape') as Endpoint
    const apiRates: number[] = []
    let lost = 0
    const mqttMs = ctx.p.warmupMs + ctx.p.durationMs
    await measure(ctx, s, { ...throughputJob(ctx, s, c), warmupMs: 0, durationMs: ctx.p.warmupRunMs })
    for (let r = 0; r < ctx.p.rounds; r++) {
      for (const mode of rotate(['idle', 'hammered', 'polled', 'scraped'] as const, r)) {
        const load = mode === 'idle'
          ? null
          : mode === 'scraped'
            ? ctx.http.call<HttpResult>(httpJob(api, scrapeEp, 1, mqttMs + 300, 1))
            : ctx.http.call<HttpResult>(httpJob(api, hammerEp, mode === 'hammered' ? 4 : 1, mqttMs + 300, mode === 'polled' ? 20 : undefined))
        const res: ThroughputResult = await measure(ctx, s, throughputJob(ctx, s, c))
        const h = load === null ? null : await load
        lost += res.lost
        if (mode === 'idle') idle.push(res.deliveredPerSec)
        else if (mode === 'hammered') { hammered.push(res.deliveredPerSec); if (h !== null) apiRates.push(h.perSec) } else if (mode === 'scraped') scraped.push(res.deliveredPerSec)
        else polled.push(res.deliveredPerSec)
      }
    }
    const mqttUnderApi = {
      idle: spread(idle),
      hammered: spread(hammered),
      polled: spread(polled),
      scraped: spread(scraped),
      apiPerSecWhileHammered: spread(apiRates),
      hammeredRatio: ratio(spread(hammered).median, spread(idle).median),
      polledRatio: ratio(spread(polled).median, spread(idle).median),
      scrapedRatio: ratio(spread(scraped).median, spread(idle).median),
      lost
    }
    ctx.log(`  QoS 0 fan-in: idle ${Math.round(mqttUnderApi.idle.median)}/s, API hammered ${Math.round(mqttUnderApi.hammered.median)}/s (×${mqttUnderApi.hammeredRatio.toFixed(2)}), API polled 20/s ${Math.round(mqttUnderApi.polled.median)}/s (×${mqttUnderApi.polledRatio.toFixed(2)}), scraped 1/s ${Math.round(mqttUnderApi.scraped.median)}/s (×${mqttUnderApi.scrapedRatio.toFixed(2)})`)
    await ctx.holder.call({ kind: 'release' })
    const first = out[0]
    const deep = out[1]
    return {
      clients: held.connected,
      subscriptions: held.connected * 2,
      endpoints: out,
      mqttUnderApi,
      deepPageRatio: first !== undefined && deep !== undefined ? ratio(deep.p99Ms.median, first.p99Ms.median) : NaN
    }
  } finally {
    await s.stop()
  }
}
