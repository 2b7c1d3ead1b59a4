/**
 * Scenario 7: shared subscriptions. QoS 1, 64 B, one publisher: throughput to one plain subscriber
 * and to a shared group of 10 (`$share/g/...`: each message reaches one member), ours and
 * Mosquitto's `$share`, every system in each round, alternating. The group should not be slower
 * than 0.8 × the plain subscriber on the same broker.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { ratio } from '../lib/stats.js'
import { startSystem, type System, type SystemName } from '../systems.js'
import type { ThroughputJob } from '../workers/mqtt-load.js'
import { measure, summarize, type SystemStats } from './throughput.js'

export interface SharedCase { id: 'plain' | 'group of 10', subscribers: number, share?: string }
export const SHARED_CASES: SharedCase[] = [{ id: 'plain', subscribers: 1 }, { id: 'group of 10', subscribers: 10, share: 'g' }]

export interface SharedResult {
  systems: SystemName[]
  cases: Array<SharedCase & { stats: Partial<Record<SystemName, SystemStats>> }>
  /** per system: group of 10 / plain (throughput, medians) */
  groupOverPlain: Partial<Record<SystemName, number>>
  /** ours / Mosquitto, per case (throughput, medians) */
  oursOverMosquitto: Partial<Record<SharedCase['id'], number>>
}

function job (ctx: Ctx, s: System, c: SharedCase): ThroughputJob {
  const j: ThroughputJob = { kind: 'throughput', port: s.mqttPort, tag: tag('sh'), qos: 1, publishers: 1, subscribers: c.subscribers, payloadSize: 64, warmupMs: ctx.p.warmupMs, durationMs: ctx.p.durationMs, window: ctx.p.window }
  if (c.share !== undefined) j.share = c.share
  return j
}

export async function runShared (ctx: Ctx): Promise<SharedResult> {
  const names: SystemName[] = ['ours']
  if (ctx.mosquitto) names.push('mosquitto')
  const systems: System[] = []
  try {
    const opts = ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }
    for (const n of names) systems.push(await startSystem(n, ctx.runtime, opts))
    for (const s of systems) for (const c of SHARED_CASES) await ctx.mqtt.call({ ...job(ctx, s, c), warmupMs: 0, durationMs: ctx.p.warmupRunMs / 2 })
    const runs = new Map<string, Array<Awaited<ReturnType<typeof measure>>>>()
    for (let r = 0; r < ctx.p.rounds; r++) {
      // plain and group alternate within each system's turn, the systems rotate per round
      for (const s of rotate(systems, r)) {
        for (const c of r % 2 === 0 ? SHARED_CASES : [...SHARED_CASES].reverse()) {
          const key = `${s.name}|${c.id}`
          const list = runs.get(key) ?? []
          list.push(await measure(ctx, s, job(ctx, s, c)))
          runs.set(key, list)
        }
      }
    }
    const cases = SHARED_CASES.map(c => {
      const stats: Partial<Record<SystemName, SystemStats>> = {}
      for (const n of names) {
        const list = runs.get(`${n}|${c.id}`)
        if (list !== undefined) stats[n] = summarize(list)
      }
      return { ...c, stats }
    })
    const median = (n: SystemName, id: SharedCase['id']): number => cases.find(c => c.id === id)?.stats[n]?.deliveredPerSec.median ?? NaN
    const groupOverPlain: SharedResult['groupOverPlain'] = {}
    for (const n of names) groupOverPlain[n] = ratio(median(n, 'group of 10'), median(n, 'plain'))
    const oursOverMosquitto: SharedResult['oursOverMosquitto'] = {}
    if (ctx.mosquitto) for (const c of SHARED_CASES) oursOverMosquitto[c.id] = ratio(median('ours', c.id), median('mosquitto', c.id))
    for (const c of cases) {
      ctx.log(`  qos1 ${c.id}: ${names.map(n => `${n} ${Math.round(c.stats[n]?.deliveredPerSec.median ?? NaN)}/s p99 ${(c.stats[n]?.latencyP99Ms.median ?? NaN).toFixed(1)}ms lost ${c.stats[n]?.lost ?? '?'}`).join(' | ')}`)
    }
    ctx.log(`  group/plain: ${names.map(n => `${n} ×${(groupOverPlain[n] ?? NaN).toFixed(2)}`).join(', ')}`)
    return { systems: names, cases, groupOverPlain, oursOverMosquitto }
  } finally {
    for (const s of systems) await s.stop()
  }
}
