/**
 * Scenario 2: idle clients against a fresh broker each round, in three parts:
 *  - memory: `connectionSteps` clients in all (full 1,000 then 15,000; 100 connecting at a time),
 *    memory per connection as the broker's RSS delta / N at each step, each RSS read after a full
 *    garbage collection in the Node-based systems; the rate of those connects (100 at once)
 *  - one at a time: after releasing them, `serialConnects` clients connect one after another (each
 *    CONNECT sent once the previous CONNACK arrived): the cost of the CONNECT path alone
 *  - storm (our node only): the last step's count connecting 200 at a time while the API is polled
 *    for the first page of connections 20 times a second: every client must get its CONNACK (30 s
 *    bound each) and the page's p99 is reported.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { rssOf } from '../lib/proc.js'
import { sleep } from '../../test/support/wait.js'
import { quantile, ratio, spread, type Spread } from '../lib/stats.js'
import { startSystem, type System, type SystemName } from '../systems.js'
import type { ConnectResult } from '../workers/mqtt-load.js'

export interface ConnStats {
  /** 100 connecting at a time, over every step */
  connectPerSec: Spread
  /** one at a time */
  serialPerSec: Spread
  /** at each step (the same order as ConnectionsResult.steps) */
  bytesPerConn: Spread[]
  failed: number
  firstError: string | null
}

export interface StormResult {
  clients: number
  concurrency: number
  ms: number
  perSec: number
  failed: number
  firstError: string | null
  /** GET /connections/?_limit=100 during the storm */
  api: { requests: number, errors: number, p50Ms: number, p99Ms: number, maxMs: number }
}

export interface ConnectionsResult {
  /** clients in all at each memory step; the last one is `n` */
  steps: number[]
  n: number
  serial: number
  fdLimit: string
  systems: Partial<Record<SystemName, ConnStats>>
  ratios: Partial<Record<SystemName, { connectRate: number, serialRate: number, memory: number }>>
  storm?: StormResult
}

interface Run { perSec: number, serialPerSec: number, bytesPerConn: number[], failed: number, firstError: string | null }

async function collected (s: System): Promise<number> {
  // Node-based systems collect garbage before each reading (mosquitto has none to collect)
  if (s.name !== 'mosquitto') process.kill(s.pid, 'SIGUSR2')
  await sleep(500)
  return rssOf(s.pid)
}

async function memoryAndRate (ctx: Ctx, s: System, steps: number[], serial: number): Promise<Run> {
  await sleep(1000)
  const rss0 = await collected(s)
  const prefix = tag('c')
  const bytesPerConn: number[] = []
  let have = 0
  let ms = 0
  let failed = 0
  let firstError: string | null = null
  for (const n of steps) {
    const res = await ctx.mqtt.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: `${prefix}-${have}`, n: n - have, concurrency: 100, subscriptions: 0, qos: 0 })
    have = n
    ms += res.ms
    failed += res.failed
    firstError ??= res.firstError
    await sleep(1000)
    bytesPerConn.push((await collected(s) - rss0) / Math.max(1, n - failed))
  }
  await ctx.mqtt.call({ kind: 'release' })
  const one = await ctx.mqtt.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: tag('s'), n: serial, concurrency: 1, subscriptions: 0, qos: 0 })
  await ctx.mqtt.call({ kind: 'release' })
  failed += one.failed
  firstError ??= one.firstError
  return { perSec: (have - failed) / (ms / 1000), serialPerSec: one.perSec, bytesPerConn, failed, firstError }
}

async function storm (ctx: Ctx, n: number): Promise<StormResult> {
  const s = await startSystem('ours', ctx.runtime, {})
  try {
    await sleep(1000)
    const concurrency = 200
    const connecting = ctx.mqtt.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: tag('storm'), n, concurrency, subscriptions: 0, qos: 0 })
    const state = { done: false }
    connecting.finally(() => { state.done = true }).catch(() => {})
    const lat: number[] = []
    let errors = 0
    const authz = 'Basic ' + Buffer.from('admin:public').toString('base64')
    // polled, not hammered: one request every 50 ms (or after the previous answer, if slower)
    while (!state.done) {
      const t0 = performance.now()
      try {
        const res = await fetch(`${s.api}/connections/?_limit=100`, { headers: { authorization: authz } })
        await res.arrayBuffer()
        if (!res.ok) errors++
      } catch {
        errors++
      }
      const took = performance.now() - t0
      lat.push(took)
      if (took < 50) await sleep(50 - took)
    }
    const res = await connecting
    await ctx.mqtt.call({ kind: 'release' })
    return {
      clients: n,
      concurrency,
      ms: res.ms,
      perSec: res.perSec,
      failed: res.failed,
      firstError: res.firstError,
      api: { requests: lat.length, errors, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxMs: Math.max(...lat) }
    }
  } finally {
    await s.stop()
  }
}

/** `stormOnly`: only the storm (`npm run bench -- --only=connections --storm-only`), to check the API under it */
export async function runConnections (ctx: Ctx, fdLimit: string, stormOnly = false): Promise<ConnectionsResult> {
  const names: SystemName[] = stormOnly ? [] : ['ours', 'aedes-memory', 'aedes-sqlite']
  if (ctx.mosquitto && !stormOnly) names.push('mosquitto')
  const steps = ctx.p.connectionSteps
  const n = steps.at(-1) ?? 0
  const serial = ctx.p.serialConnects
  const runs = new Map<SystemName, Run[]>()
  for (let r = 0; r < ctx.p.connectionRounds; r++) {
    for (const name of rotate(names, r)) {
      const s = await startSystem(name, ctx.runtime, { gcOnSignal: true, ...(ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }) })
      try {
        const run = await memoryAndRate(ctx, s, steps, serial)
        runs.set(name, [...runs.get(name) ?? [], run])
        ctx.log(`  ${name}: ${Math.round(run.perSec)}/s (100 at once), ${Math.round(run.serialPerSec)}/s (one at a time), B/conn ${steps.map((k, i) => `${Math.round(run.bytesPerConn[i] ?? NaN)} at ${k}`).join(', ')}${run.failed > 0 ? `, ${run.failed} failed: ${run.firstError ?? ''}` : ''}`)
      } finally {
        await s.stop()
      }
    }
  }
  const result: ConnectionsResult = { steps, n, serial, fdLimit, systems: {}, ratios: {} }
  for (const [name, list] of runs) {
    result.systems[name] = {
      connectPerSec: spread(list.map(x => x.perSec)),
      serialPerSec: spread(list.map(x => x.serialPerSec)),
      bytesPerConn: steps.map((_, i) => spread(list.map(x => x.bytesPerConn[i] ?? NaN))),
      failed: list.reduce((a, x) => a + x.failed, 0),
      firstError: list.find(x => x.firstError !== null)?.firstError ?? null
    }
  }
  const ours = result.systems.ours
  for (const name of names) {
    const b = result.systems[name]
    if (name === 'ours' || ours === undefined || b === undefined) continue
    result.ratios[name] = {
      connectRate: ratio(ours.connectPerSec.median, b.connectPerSec.median),
      serialRate: ratio(ours.serialPerSec.median, b.serialPerSec.median),
      memory: ratio(ours.bytesPerConn.at(-1)?.median ?? NaN, b.bytesPerConn.at(-1)?.median ?? NaN)
    }
  }
  result.storm = await storm(ctx, n)
  ctx.log(`  storm: ${n} clients 200 at a time in ${Math.round(result.storm.ms)} ms, ${result.storm.failed} failed; GET /connections/?_limit=100 p99 ${result.storm.api.p99Ms.toFixed(1)} ms over ${result.storm.api.requests} requests`)
  return result
}
