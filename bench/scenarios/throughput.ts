/**
 * Scenario 1: MQTT throughput and end-to-end latency, QoS 0/1 × fan-in (10 → 1) / fan-out (1 → 10) ×
 * 64 B / 4 KB, every system in each round, alternating.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { cpuMsOf, writeCallsOf } from '../lib/proc.js'
import { ratio, spread, type Spread } from '../lib/stats.js'
import { BEFORE_DIR, startSystem, type System, type SystemName } from '../systems.js'
import type { ThroughputJob, ThroughputResult } from '../workers/mqtt-load.js'

export interface Case { id: string, qos: 0 | 1, shape: 'fan-in' | 'fan-out', payload: number }

export interface SystemStats {
  deliveredPerSec: Spread
  latencyP50Ms: Spread
  latencyP99Ms: Spread
  /** broker CPU time per delivered message, µs (whole job) */
  cpuUsPerMsg: Spread
  /** the broker's write syscalls per delivered message (whole job): 1 when every packet is its own write */
  writesPerMsg: Spread
  expected: number
  lost: number
}

export interface CaseResult extends Case {
  systems: Partial<Record<SystemName, SystemStats>>
  /** ours / baseline: throughput (higher is better), latency baseline / ours (higher is better) */
  ratios: Partial<Record<SystemName, { throughput: number, p50: number, p99: number }>>
}

export const CASES: Case[] = []
for (const qos of [0, 1] as const) {
  for (const shape of ['fan-in', 'fan-out'] as const) {
    for (const payload of [64, 4096]) CASES.push({ id: `qos${qos} ${shape} ${payload === 64 ? '64B' : '4KB'}`, qos, shape, payload })
  }
}

export function throughputJob (ctx: Ctx, system: System, c: Case): ThroughputJob {
  return {
    kind: 'throughput',
    port: system.mqttPort,
    tag: tag('t'),
    qos: c.qos,
    publishers: c.shape === 'fan-in' ? 10 : 1,
    subscribers: c.shape === 'fan-in' ? 1 : 10,
    payloadSize: c.payload,
    warmupMs: ctx.p.warmupMs,
    durationMs: ctx.p.durationMs,
    window: ctx.p.window
  }
}

type Measured = ThroughputResult & { cpuUsPerMsg: number, writesPerMsg: number }

/** One measurement, with the broker's CPU time and write syscalls over the whole job. */
export async function measure (ctx: Ctx, system: System, job: ThroughputJob): Promise<Measured> {
  const cpu0 = cpuMsOf(system.pid)
  const w0 = writeCallsOf(system.pid)
  const r = await ctx.mqtt.call<ThroughputResult>(job)
  const cpu = cpuMsOf(system.pid) - cpu0
  const writes = writeCallsOf(system.pid) - w0
  return { ...r, cpuUsPerMsg: r.delivered > 0 ? cpu * 1000 / r.delivered : NaN, writesPerMsg: r.delivered > 0 ? writes / r.delivered : NaN }
}

export function summarize (runs: Measured[]): SystemStats {
  return {
    deliveredPerSec: spread(runs.map(r => r.deliveredPerSec)),
    latencyP50Ms: spread(runs.map(r => r.latencyMs.p50)),
    latencyP99Ms: spread(runs.map(r => r.latencyMs.p99)),
    cpuUsPerMsg: spread(runs.map(r => r.cpuUsPerMsg)),
    writesPerMsg: spread(runs.map(r => r.writesPerMsg)),
    expected: runs.reduce((a, r) => a + r.expected, 0),
    lost: runs.reduce((a, r) => a + r.lost, 0)
  }
}

export async function runThroughput (ctx: Ctx): Promise<{ systems: SystemName[], cases: CaseResult[] }> {
  const names: SystemName[] = ['ours', 'aedes-memory', 'aedes-sqlite']
  if (BEFORE_DIR !== null) names.splice(1, 0, 'before')
  if (ctx.mosquitto) names.push('mosquitto')
  const opts = ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }
  const systems: System[] = []
  try {
    for (const n of names) systems.push(await startSystem(n, ctx.runtime, opts))
    // JIT warm-up: one unrecorded run per system of each QoS
    for (const s of systems) {
      for (const c of [CASES[0], CASES[CASES.length - 1]]) {
        if (c !== undefined) await ctx.mqtt.call({ ...throughputJob(ctx, s, c), warmupMs: 0, durationMs: ctx.p.warmupRunMs / 2 })
      }
    }
    const cases: CaseResult[] = []
    const wanted = ctx.cases
    for (const c of CASES.filter(c => wanted === undefined || wanted.includes(c.id.replaceAll(' ', '-')))) {
      const runs = new Map<SystemName, Measured[]>()
      for (let r = 0; r < ctx.p.rounds; r++) {
        for (const s of rotate(systems, r)) {
          const res = await measure(ctx, s, throughputJob(ctx, s, c))
          const list = runs.get(s.name) ?? []
          list.push(res)
          runs.set(s.name, list)
        }
      }
      const result: CaseResult = { ...c, systems: {}, ratios: {} }
      for (const [n, list] of runs) result.systems[n] = summarize(list)
      const ours = result.systems.ours
      for (const n of names) {
        const b = result.systems[n]
        if (n === 'ours' || b === undefined || ours === undefined) continue
        result.ratios[n] = {
          throughput: ratio(ours.deliveredPerSec.median, b.deliveredPerSec.median),
          p50: ratio(b.latencyP50Ms.median, ours.latencyP50Ms.median),
          p99: ratio(b.latencyP99Ms.median, ours.latencyP99Ms.median)
        }
      }
      const line = names.map(n => `${n} ${Math.round(result.systems[n]?.deliveredPerSec.median ?? NaN)}/s p99 ${(result.systems[n]?.latencyP99Ms.median ?? NaN).toFixed(1)}ms lost ${result.systems[n]?.lost ?? '?'}`).join(' | ')
      ctx.log(`  ${c.id}: ${line}`)
      cases.push(result)
    }
    return { systems: names, cases }
  } finally {
    for (const s of systems) await s.stop()
  }
}
