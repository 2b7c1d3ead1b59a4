/**
 * npm run bench [-- --quick] [-- --only=throughput,connections,api,stores,cluster,scrape,shared,lists] [-- --cpu-prof]
 *   [-- --cases=qos1-fan-out-64B,...] (throughput cases by id, spaces as dashes)
 *   [-- --storm-only] (of the connection scenario, only the connect storm against our node)
 *
 * Runs each scenario with our node and its baselines side by side (alternating, several rounds),
 * writes bench/results/latest[-quick].json/.md (the latest run per mode: the history is in git and
 * BENCHMARKS.md), and prints the summary.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { PROFILES, type Ctx } from './context.js'
import { ROOT, Worker } from './lib/proc.js'
import { evaluate, markdown, type Results } from './report.js'
import { runApi } from './scenarios/api.js'
import { clusterSkipReason, runCluster } from './scenarios/cluster.js'
import { runConnections } from './scenarios/connections.js'
import { runLists } from './scenarios/lists.js'
import { runStores } from './scenarios/stores.js'
import { runScrape, scrapeClients } from './scenarios/scrape.js'
import { runShared } from './scenarios/shared.js'
import { runThroughput } from './scenarios/throughput.js'
import { MOSQUITTO, mosquittoVersion, prepareOurs } from './systems.js'

const SCENARIOS = ['throughput', 'connections', 'api', 'stores', 'cluster', 'scrape', 'shared', 'lists'] as const
const WANT_FDS = 65536

function fdLimit (): string {
  return spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()
}

/** Re-executes this script once under a raised open-files limit (children inherit it), when allowed. */
function raiseFdLimit (): boolean {
  const current = fdLimit()
  if (process.env.BENCH_FD_RAISED === '1' || current === 'unlimited' || Number(current) >= WANT_FDS) return false
  const script = `ulimit -n ${WANT_FDS} 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$0" "$@"`
  const r = spawnSync('sh', ['-c', script, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_FD_RAISED: '1' }
  })
  process.exit(r.status ?? 1)
}

async function main (): Promise<void> {
  raiseFdLimit()
  const args = process.argv.slice(2)
  const mode = args.includes('--quick') ? 'quick' : 'full'
  const only = args.find(a => a.startsWith('--only='))?.slice('--only='.length).split(',') ?? [...SCENARIOS]
  const unknown = only.filter(s => !(SCENARIOS as readonly string[]).includes(s))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}: one of ${SCENARIOS.join(', ')}`)
  const started = performance.now()
  const log = (s: string): void => { console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}`) }
  const runtime = prepareOurs(log)
  const p = PROFILES[mode]
  const skipped: string[] = []
  if (MOSQUITTO === null) {
    skipped.push('Mosquitto: not installed (apt-get install -y mosquitto)')
    log('Mosquitto is not installed: its columns are skipped')
  }
  const ctx: Ctx = {
    mode,
    p,
    runtime,
    mqtt: new Worker('bench/workers/mqtt-load.ts', 'mqtt-load'),
    holder: new Worker('bench/workers/mqtt-load.ts', 'mqtt-holder'),
    http: new Worker('bench/workers/http-load.ts', 'http-load'),
    mosquitto: MOSQUITTO !== null,
    log
  }
  const cases = args.find(a => a.startsWith('--cases='))?.slice('--cases='.length).split(',')
  if (cases !== undefined) ctx.cases = cases
  if (args.includes('--cpu-prof')) {
    ctx.cpuProfDir = join(ROOT, 'bench/results/profiles')
    mkdirSync(ctx.cpuProfDir, { recursive: true })
  }
  const pkg = (path: string): string => (JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as { version: string }).version
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim()
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length
  const cpu = cpus()
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      mode,
      command: mode === 'quick' ? 'npm run bench -- --quick' : 'npm run bench',
      machine: { cpuModel: cpu[0]?.model ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10, os: `Linux ${release()}`, fdLimit: fdLimit() },
      versions: { node: process.version, aedes: pkg('node_modules/aedes/package.json'), mosquitto: mosquittoVersion(), mqttLoad: 'bench/lib/mqtt-raw.ts (raw MQTT 3.1.1 frames)' },
      ours: runtime.how,
      git: `${git}${dirty > 0 ? ` + ${dirty} uncommitted files under src/` : ''}`,
      profile: p
    },
    goals: [],
    skipped
  }
  log(`mode ${mode}: ${only.join(', ')}; our node: ${runtime.how}; open files limit ${results.meta.machine.fdLimit}`)
  // a failing scenario is reported and the others still run; the results are always written
  const attempt = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      log(`scenario ${name} FAILED: ${err instanceof Error ? err.message : String(err)}`)
      skipped.push(`${name}: failed (${err instanceof Error ? err.message : String(err)})`)
      process.exitCode = 1
    }
  }
  try {
    if (only.includes('throughput')) {
      log('scenario 1: MQTT throughput')
      await attempt('throughput', async () => { results.throughput = await runThroughput(ctx) })
    }
    if (only.includes('connections')) {
      log(`scenario 2: ${p.connectionSteps.join(' then ')} connections, ${p.serialConnects} one at a time, a storm of ${p.connectionSteps.at(-1) ?? 0}`)
      await attempt('connections', async () => { results.connections = await runConnections(ctx, results.meta.machine.fdLimit, args.includes('--storm-only')) })
    }
    if (only.includes('api')) {
      log(`scenario 3: the API with ${p.connections} clients`)
      await attempt('api', async () => { results.api = await runApi(ctx) })
    }
    if (only.includes('stores')) {
      log('scenario 4: stores')
      await attempt('stores', async () => { results.stores = await runStores(ctx) })
      if (results.stores !== undefined && !results.stores.mongo.startsWith('FerretDB')) skipped.push(`MongoDB store: ${results.stores.mongo}`)
    }
    if (only.includes('cluster')) {
      const why = clusterSkipReason()
      if (why === null) {
        log('scenario 5: the cluster path (two nodes, Redis bus)')
        await attempt('cluster', async () => { results.cluster = await runCluster(ctx) })
      } else {
        log(`scenario 5 skipped: ${why}`)
        skipped.push(why)
      }
    }
    if (only.includes('scrape')) {
      log(`scenario 6: a Prometheus scrape at ${scrapeClients(ctx)} clients`)
      await attempt('scrape', async () => { results.scrape = await runScrape(ctx) })
    }
    if (only.includes('shared')) {
      log('scenario 7: shared subscriptions (QoS 1, one plain subscriber vs a group of 10)')
      await attempt('shared', async () => { results.shared = await runShared(ctx) })
    }
    if (only.includes('lists')) {
      log('scenario 8: list queries at growing sizes')
      await attempt('lists', async () => { results.lists = await runLists(ctx) })
    }
  } finally {
    await Promise.all([ctx.mqtt.stop(), ctx.holder.stop(), ctx.http.stop()]).catch((err: unknown) => log(`stopping the load generators: ${String(err)}`))
  }
  results.meta.durationSec = (performance.now() - started) / 1000
  results.goals = evaluate(results)
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const json = JSON.stringify(results, null, 2) + '\n'
  const suffix = mode === 'quick' ? '-quick' : ''
  writeFileSync(join(dir, `latest${suffix}.json`), json)
  const md = markdown(results)
  writeFileSync(join(dir, `latest${suffix}.md`), md)
  console.log('\n' + md)
  log(`written bench/results/latest${suffix}.json and latest${suffix}.md`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
