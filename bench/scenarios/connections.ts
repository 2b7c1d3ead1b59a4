/**
 * Scenario 2: N idle clients connect (full 10,000, quick 1,000): connect rate, and memory per
 * connection as the broker's RSS delta / N, each RSS read after a full garbage collection in the
 * Node-based systems. Each measurement uses a fresh broker process.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { rssOf } from '../lib/proc.js'
import { sleep } from '../../test/support/wait.js'
import { ratio, spread, type Spread } from '../lib/stats.js'
import { startSystem, type SystemName } from '../systems.js'
import type { ConnectResult } from '../workers/mqtt-load.js'

export interface ConnStats {
  connectPerSec: Spread
  bytesPerConn: Spread
  failed: number
  firstError: string | null
}

export interface ConnectionsResult {
  n: number
  fdLimit: string
  systems: Partial<Record<SystemName, ConnStats>>
  ratios: Partial<Record<SystemName, { connectRate: number, memory: number }>>
}

export async function runConnections (ctx: Ctx, fdLimit: string): Promise<ConnectionsResult> {
  const names: SystemName[] = ['ours', 'aedes-memory', 'aedes-sqlite']
  if (ctx.mosquitto) names.push('mosquitto')
  const n = ctx.p.connections
  const runs = new Map<SystemName, Array<ConnectResult & { bytesPerConn: number }>>()
  const rounds = ctx.p.connectionRounds
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) {
      const s = await startSystem(name, ctx.runtime, { gcOnSignal: true, ...(ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }) })
      // Node-based systems collect garbage before each reading (mosquitto has none to collect)
      const collected = async (): Promise<number> => {
        if (s.name !== 'mosquitto') process.kill(s.pid, 'SIGUSR2')
        await sleep(500)
        return rssOf(s.pid)
      }
      try {
        await sleep(1000)
        const rss0 = await collected()
        const res = await ctx.mqtt.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: tag('c'), n, concurrency: 100, subscriptions: 0, qos: 0 })
        await sleep(1000)
        const rss1 = await collected()
        await ctx.mqtt.call({ kind: 'release' })
        const list = runs.get(name) ?? []
        list.push({ ...res, bytesPerConn: (rss1 - rss0) / Math.max(1, res.connected) })
        runs.set(name, list)
        ctx.log(`  ${name}: ${res.connected}/${n} in ${Math.round(res.ms)} ms (${Math.round(res.perSec)}/s), ${Math.round((rss1 - rss0) / Math.max(1, res.connected))} B/conn${res.failed > 0 ? `, ${res.failed} failed: ${res.firstError ?? ''}` : ''}`)
      } finally {
        await s.stop()
      }
    }
  }
  const result: ConnectionsResult = { n, fdLimit, systems: {}, ratios: {} }
  for (const [name, list] of runs) {
    result.systems[name] = {
      connectPerSec: spread(list.map(x => x.perSec)),
      bytesPerConn: spread(list.map(x => x.bytesPerConn)),
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
      memory: ratio(ours.bytesPerConn.median, b.bytesPerConn.median)
    }
  }
  return result
}
