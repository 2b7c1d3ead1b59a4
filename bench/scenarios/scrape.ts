/**
 * Scenario 6: what a Prometheus scrape costs. Our node holds N clients (15,000 in the full run,
 * one subscription each). Side by side on that node, alternating within each round:
 *
 * - latency: GET /prometheus/stats, the same with ?mode=all_nodes_aggregated (the path through
 *   prom-client's JSON and AggregatorRegistry that every scrape took before) and GET /stats/ (the
 *   cheapest API answer: the floor any request pays on a busy node) in a closed loop on one connection;
 * - CPU: the node's CPU time per scrape (a closed loop of scrapes, minus what it burns idle in the
 *   same time), so the cost at one scrape a second is a share of a core that does not drown in
 *   throughput noise;
 * - MQTT: QoS 0 fan-in 64 B deliveries/s without scrapes and while scraped once a second, in
 *   adjacent runs; the ratio of each pair is reported (its median over the rounds).
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { sleep } from '../../test/support/wait.js'
import { cpuMsOf } from '../lib/proc.js'
import { median, ratio, spread, type Spread } from '../lib/stats.js'
import { startSystem } from '../systems.js'
import type { ConnectResult } from '../workers/mqtt-load.js'
import type { HttpJob, HttpResult } from '../workers/http-load.js'
import { CASES, measure, throughputJob } from './throughput.js'

export interface ScrapeResult {
  clients: number
  /** one connection, closed loop: median (spread) over rounds */
  scrape: { p50Ms: Spread, p99Ms: Spread, bytes: number }
  aggregated: { p50Ms: Spread, p99Ms: Spread }
  stats: { p50Ms: Spread, p99Ms: Spread }
  /** the node's CPU ms per scrape, idle CPU subtracted */
  cpuMsPerScrape: Spread
  /** QoS 0 fan-in 64 B deliveries/s */
  mqtt: { idle: Spread, scraped: Spread, pairRatios: Spread, lost: number }
}

/** 15,000 clients in the full run (the issue's figure), the quick profile's count otherwise */
export const scrapeClients = (ctx: Ctx): number => ctx.mode === 'full' ? 15_000 : ctx.p.connections

function job (url: string, concurrency: number, durationMs: number, ratePerSec?: number): HttpJob {
  const j: HttpJob = { kind: 'http', url, method: 'GET', auth: 'admin:public', concurrency, durationMs }
  if (ratePerSec !== undefined) j.ratePerSec = ratePerSec
  return j
}

export async function runScrape (ctx: Ctx): Promise<ScrapeResult> {
  const n = scrapeClients(ctx)
  const opts = ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }
  const s = await startSystem('ours', ctx.runtime, opts)
  const api = s.api as string
  const scrapeUrl = `${api}/prometheus/stats`
  const statsUrl = `${api}/stats/`
  const aggregatedUrl = `${scrapeUrl}?mode=all_nodes_aggregated`
  const urls = { scrape: scrapeUrl, aggregated: aggregatedUrl, stats: statsUrl }
  try {
    const held = await ctx.holder.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: tag('p'), n, concurrency: 100, subscriptions: 1, qos: 0 })
    ctx.log(`  ${held.connected} clients in ${Math.round(held.ms)} ms${held.failed > 0 ? ` (${held.failed} failed: ${held.firstError ?? ''})` : ''}`)
    await sleep(1000)
    const bytes = (await (await fetch(scrapeUrl)).text()).length
    for (const u of Object.values(urls)) await ctx.http.call<HttpResult>(job(u, 1, 500))
    const scrape: HttpResult[] = []
    const aggregated: HttpResult[] = []
    const stats: HttpResult[] = []
    const cpu: number[] = []
    for (let r = 0; r < ctx.p.smallRounds * 2; r++) {
      for (const which of rotate(['scrape', 'aggregated', 'stats'] as const, r)) {
        const c0 = cpuMsOf(s.pid)
        const res = await ctx.http.call<HttpResult>(job(urls[which], 1, ctx.p.httpMs))
        const used = cpuMsOf(s.pid) - c0
        if (which === 'stats') { stats.push(res); continue }
        if (which === 'aggregated') { aggregated.push(res); continue }
        scrape.push(res)
        // what the node burns in the same time without requests (keep-alive timers, GC)
        const i0 = cpuMsOf(s.pid)
        await sleep(ctx.p.httpMs)
        const idle = cpuMsOf(s.pid) - i0
        if (res.requests > 0) cpu.push(Math.max(0, used - idle) / res.requests)
      }
    }
    ctx.log(`  scrape (${bytes} B): p50 ${median(scrape.map(x => x.latencyMs.p50)).toFixed(2)} ms, p99 ${median(scrape.map(x => x.latencyMs.p99)).toFixed(2)} ms; aggregated p99 ${median(aggregated.map(x => x.latencyMs.p99)).toFixed(2)} ms; GET /stats/ p99 ${median(stats.map(x => x.latencyMs.p99)).toFixed(2)} ms; ${median(cpu).toFixed(2)} CPU ms per scrape`)

    const c = CASES[0]
    if (c === undefined) throw new Error('no throughput case')
    const mqttMs = ctx.p.warmupMs + ctx.p.durationMs
    await measure(ctx, s, { ...throughputJob(ctx, s, c), warmupMs: 0, durationMs: ctx.p.warmupRunMs })
    const idle: number[] = []
    const scraped: number[] = []
    const pairs: number[] = []
    let lost = 0
    for (let r = 0; r < ctx.p.rounds * 2; r++) {
      const got: Record<string, number> = {}
      for (const mode of rotate(['idle', 'scraped'] as const, r)) {
        // one scrape a second, the first at once
        const load = mode === 'scraped' ? ctx.http.call<HttpResult>(job(scrapeUrl, 1, mqttMs + 300, 1)) : null
        const res = await measure(ctx, s, throughputJob(ctx, s, c))
        if (load !== null) await load
        lost += res.lost
        got[mode] = res.deliveredPerSec
        ;(mode === 'idle' ? idle : scraped).push(res.deliveredPerSec)
      }
      pairs.push(ratio(got.scraped ?? NaN, got.idle ?? NaN))
    }
    const result: ScrapeResult = {
      clients: held.connected,
      scrape: { p50Ms: spread(scrape.map(x => x.latencyMs.p50)), p99Ms: spread(scrape.map(x => x.latencyMs.p99)), bytes },
      aggregated: { p50Ms: spread(aggregated.map(x => x.latencyMs.p50)), p99Ms: spread(aggregated.map(x => x.latencyMs.p99)) },
      stats: { p50Ms: spread(stats.map(x => x.latencyMs.p50)), p99Ms: spread(stats.map(x => x.latencyMs.p99)) },
      cpuMsPerScrape: spread(cpu),
      mqtt: { idle: spread(idle), scraped: spread(scraped), pairRatios: spread(pairs), lost }
    }
    ctx.log(`  QoS 0 fan-in: idle ${Math.round(result.mqtt.idle.median)}/s, scraped 1/s ${Math.round(result.mqtt.scraped.median)}/s, pair ratio ×${result.mqtt.pairRatios.median.toFixed(3)} (${result.mqtt.pairRatios.min.toFixed(2)}–${result.mqtt.pairRatios.max.toFixed(2)})`)
    await ctx.holder.call({ kind: 'release' })
    return result
  } finally {
    await s.stop()
  }
}
