/**
 * Scenario 8: the list queries of issue 18 at growing sizes. For each size our node holds N clients
 * (14 subscriptions each: 210,000 at 15,000); every query is measured alone (one connection, closed loop): the first
 * page, a deep page by `_cursor` and by `_page`, `_like_clientid`, `_match_topic`, a `_sort`ed first
 * page and a `fields=` page. The sizes show how the cost grows (BENCHMARKS.md projects it). Then
 * QoS 0 fan-in throughput alone, with four of those queries hammered (one closed-loop connection
 * each) and with them polled (5 req/s each), alternating: the issue's "MQTT throughput while these
 * queries run ≥ 0.9 × without".
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { sleep } from '../../test/support/wait.js'
import { ratio, spread, type Spread } from '../lib/stats.js'
import { startSystem } from '../systems.js'
import type { ConnectResult } from '../workers/mqtt-load.js'
import type { HttpJob, HttpResult } from '../workers/http-load.js'
import { CASES, measure, throughputJob } from './throughput.js'

export interface ListQueryStats { id: string, path: string, p50Ms: Spread, p99Ms: Spread, errors: number }

export interface ListsAtSize {
  clients: number
  subscriptions: number
  queries: ListQueryStats[]
  /** p99 of the deep cursor page / p99 of the first page */
  deepCursorRatio: number
  /** `Accept: application/x-ndjson` export of every connection, whole response, ms (runs) */
  ndjsonMs: Spread
  ndjsonRows: number
  /** QoS 0 fan-in 64 B deliveries/s with and without list queries running */
  mqttUnderQueries: {
    idle: Spread
    hammered: Spread
    polled: Spread
    /** list queries answered per second, all four together, while hammered */
    queriesPerSecWhileHammered: Spread
    /** medians of each round's ratio to that round's run without queries (adjacent runs: less drift) */
    hammeredRatio: number
    polledRatio: number
    lost: number
  }
}

export interface ListsResult { sizes: ListsAtSize[] }

/** 1,000 and 15,000 clients (the open-files limit allows 20,000 per process); quick: 1,000 only */
export const LIST_SIZES = { quick: [1000], full: [1000, 15000] } as const

const AUTH = 'admin:public'
/** the issue's 200,000 subscriptions at 15,000 connections (210,000), the same ratio at every size */
const SUBS_PER_CLIENT = 14

async function getJson (url: string): Promise<{ meta: { cursor?: string, count: number } }> {
  const res = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(AUTH).toString('base64')}` } })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return await res.json() as { meta: { cursor?: string, count: number } }
}

async function atSize (ctx: Ctx, n: number): Promise<ListsAtSize> {
  const opts = ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }
  const s = await startSystem('ours', ctx.runtime, opts)
  const api = s.api as string
  try {
    const prefix = tag('l')
    const held = await ctx.holder.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix, n, concurrency: 100, subscriptions: SUBS_PER_CLIENT, qos: 1 })
    ctx.log(`  ${held.connected} clients with ${held.connected * SUBS_PER_CLIENT} subscriptions in ${Math.round(held.ms)} ms${held.failed > 0 ? ` (${held.failed} failed: ${held.firstError ?? ''})` : ''}`)
    await sleep(1000)
    // a cursor 100 rows before the end: the page after it is as deep as a page gets
    const deep = await getJson(`${api}/connections/?_limit=${Math.max(1, held.connected - 100)}&fields=client_id`)
    if (deep.meta.cursor === undefined) throw new Error('no cursor for the deep page')
    const mid = Math.floor(n / 2)
    const queries = [
      { id: 'first page', path: '/connections/?_limit=100' },
      { id: 'deep page by _cursor', path: `/connections/?_limit=100&_cursor=${deep.meta.cursor}` },
      { id: 'deep page by _page', path: `/connections/?_limit=100&_page=${Math.max(1, Math.floor(held.connected / 100))}` },
      { id: '_like_clientid', path: `/connections/?_like_clientid=${prefix}-${mid}&_limit=100` },
      { id: '_match_topic', path: `/subscriptions/?_match_topic=bench/${prefix}/${mid}/1` },
      { id: '_sort=-connected_at first page', path: '/connections/?_sort=-connected_at&_limit=100' },
      { id: 'fields first page', path: '/connections/?_limit=100&fields=client_id,connected_at' }
    ]
    const job = (path: string, ms: number): HttpJob => ({ kind: 'http', url: api + path, method: 'GET', auth: AUTH, concurrency: 1, durationMs: ms })
    for (const q of queries) await ctx.http.call<HttpResult>(job(q.path, 300))
    const runs = new Map<string, HttpResult[]>()
    for (let r = 0; r < ctx.p.smallRounds; r++) {
      for (const q of rotate(queries, r)) runs.set(q.id, [...runs.get(q.id) ?? [], await ctx.http.call<HttpResult>(job(q.path, ctx.p.httpMs))])
    }
    const out = queries.map(q => {
      const rs = runs.get(q.id) ?? []
      const st: ListQueryStats = { ...q, p50Ms: spread(rs.map(x => x.latencyMs.p50)), p99Ms: spread(rs.map(x => x.latencyMs.p99)), errors: rs.reduce((a, x) => a + x.errors, 0) }
      ctx.log(`  ${n}: ${q.id}: p50 ${st.p50Ms.median.toFixed(2)} ms, p99 ${st.p99Ms.median.toFixed(2)} ms${st.errors > 0 ? `, ${st.errors} errors` : ''}`)
      return st
    })
    // the whole list as a stream, timed to its last byte
    const ndjson: number[] = []
    let ndjsonRows = 0
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now()
      const res = await fetch(`${api}/connections/`, { headers: { accept: 'application/x-ndjson', authorization: `Basic ${Buffer.from(AUTH).toString('base64')}` } })
      const text = await res.text()
      ndjson.push(performance.now() - t0)
      ndjsonRows = text.length === 0 ? 0 : text.trimEnd().split('\n').length
    }
    ctx.log(`  ${n}: NDJSON export of ${ndjsonRows} connections: ${spread(ndjson).median.toFixed(0)} ms`)
    const mqttUnderQueries = await underQueries(ctx, s, queries.filter(q => LOADED.includes(q.id)).map(q => q.path))
    ctx.log(`  ${n}: MQTT QoS 0 fan-in while list queries run: hammered ×${mqttUnderQueries.hammeredRatio.toFixed(2)} (${Math.round(mqttUnderQueries.queriesPerSecWhileHammered.median)} queries/s), polled ×${mqttUnderQueries.polledRatio.toFixed(2)}`)
    await ctx.holder.call({ kind: 'release' })
    const [first, cursor] = out
    return {
      clients: held.connected,
      subscriptions: held.connected * SUBS_PER_CLIENT,
      queries: out,
      ndjsonMs: spread(ndjson),
      ndjsonRows,
      mqttUnderQueries,
      deepCursorRatio: first !== undefined && cursor !== undefined ? ratio(cursor.p99Ms.median, first.p99Ms.median) : NaN
    }
  } finally {
    await s.stop()
  }
}

/** the queries run beside MQTT traffic: the two an operator's tool polls, and the two that page */
const LOADED = ['_like_clientid', '_match_topic', 'deep page by _cursor', '_sort=-connected_at first page']

async function underQueries (ctx: Ctx, s: Awaited<ReturnType<typeof startSystem>>, paths: string[]): Promise<ListsAtSize['mqttUnderQueries']> {
  const c = CASES[0]
  if (c === undefined) throw new Error('no throughput case')
  const api = s.api as string
  const mqttMs = ctx.p.warmupMs + ctx.p.durationMs
  const load = (ratePerSec?: number): Promise<HttpResult[]> => Promise.all(paths.map(async path => await ctx.http.call<HttpResult>({
    kind: 'http', url: api + path, method: 'GET', auth: AUTH, concurrency: 1, durationMs: mqttMs + 300, ...(ratePerSec === undefined ? {} : { ratePerSec })
  } satisfies HttpJob)))
  const idle: number[] = []
  const hammered: number[] = []
  const polled: number[] = []
  const qps: number[] = []
  let lost = 0
  // the throughput of runs far apart spreads ± 25 % here, so each round's ratio is taken within it
  const paired = (xs: number[]): number => spread(xs.map((x, i) => ratio(x, idle[i] ?? NaN))).median
  await measure(ctx, s, { ...throughputJob(ctx, s, c), warmupMs: 0, durationMs: ctx.p.warmupRunMs })
  for (let r = 0; r < ctx.p.rounds; r++) {
    for (const mode of rotate(['idle', 'hammered', 'polled'] as const, r)) {
      const queried = mode === 'idle' ? null : load(mode === 'polled' ? 5 : undefined)
      const res = await measure(ctx, s, throughputJob(ctx, s, c))
      const hs = queried === null ? [] : await queried
      lost += res.lost
      if (mode === 'idle') idle.push(res.deliveredPerSec)
      else if (mode === 'polled') polled.push(res.deliveredPerSec)
      else { hammered.push(res.deliveredPerSec); qps.push(hs.reduce((a, h) => a + h.perSec, 0)) }
    }
  }
  return {
    idle: spread(idle),
    hammered: spread(hammered),
    polled: spread(polled),
    queriesPerSecWhileHammered: spread(qps),
    hammeredRatio: paired(hammered),
    polledRatio: paired(polled),
    lost
  }
}

/** BENCH_LIST_SIZES=5000,15000 measures other sizes (the growth table in BENCHMARKS.md) */
function sizesOf (ctx: Ctx): readonly number[] {
  const env = process.env.BENCH_LIST_SIZES
  return env === undefined ? LIST_SIZES[ctx.mode] : env.split(',').map(Number).filter(n => Number.isInteger(n) && n > 0)
}

export async function runLists (ctx: Ctx): Promise<ListsResult> {
  const sizes: ListsAtSize[] = []
  for (const n of sizesOf(ctx)) sizes.push(await atSize(ctx, n))
  return { sizes }
}
