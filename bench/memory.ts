/**
 * Where an idle connection's memory goes:
 *   node --import tsx bench/memory.ts [ours|aedes-memory|aedes-sqlite|mosquitto] [N1,N2,…] [--snapshots] [--root=<dir>]
 * (default ours, 1000,5000,15000). One broker process; at 0 and after each step (N idle MQTT 3.1.1
 * clients in all, from the bench's load generator, 100 connecting at a time) a full GC, then RSS
 * from /proc and, for the Node-based systems, V8's own figures (bench/heap-on-signal.cjs): heap used,
 * heap committed (what the heap costs in RSS), external and array buffers. The rest of the RSS delta
 * is native memory outside V8 (libuv and Node's handles, malloc's arenas). With --snapshots also a
 * heap snapshot per step and the object kinds each connection adds (self sizes, bench/lib/heap.ts);
 * a snapshot grows the process's malloc arenas, so RSS is then not comparable and is not printed.
 * Snapshots go to a temporary directory, removed at the end.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readHeap, perConnection, type HeapTotals } from './lib/heap.js'
import { rssOf, Worker } from './lib/proc.js'
import { prepareOurs, startSystem, type SystemName } from './systems.js'
import { sleep } from '../test/support/wait.js'
import type { ConnectResult } from './workers/mqtt-load.js'

const args = process.argv.slice(2).filter(a => !a.startsWith('--'))
const name = (args[0] ?? 'ours') as SystemName
const steps = (args[1] ?? '1000,5000,15000').split(',').map(Number)
const snapshots = process.argv.includes('--snapshots')
const nodeBased = name !== 'mosquitto'

interface V8Stats { memory: NodeJS.MemoryUsage, spaces: Array<{ space_name: string, space_size: number, space_used_size: number }> }

/** a file the broker writes on SIGUSR1, once it is complete (renamed into place) */
async function written (dir: string, before: Set<string>, ext: string): Promise<string> {
  for (let i = 0; i < 2400; i++) {
    const file = readdirSync(dir).find(f => !before.has(f) && f.endsWith(ext))
    if (file !== undefined) return join(dir, file)
    await sleep(250)
  }
  throw new Error(`no ${ext} written`)
}

async function measure (pid: number, dir: string): Promise<{ rss: number, v8: V8Stats | null, heap: HeapTotals | null }> {
  if (!nodeBased) return { rss: rssOf(pid), v8: null, heap: null }
  process.kill(pid, 'SIGUSR2') // full GC (bench/gc-on-signal.cjs)
  await sleep(700)
  const rss = rssOf(pid)
  const before = new Set(readdirSync(dir))
  process.kill(pid, 'SIGUSR1')
  const statsFile = await written(dir, before, '.json')
  const v8 = JSON.parse(readFileSync(statsFile, 'utf8')) as V8Stats
  rmSync(statsFile)
  let heap: HeapTotals | null = null
  if (snapshots) {
    const file = await written(dir, before, '.heapsnapshot')
    heap = readHeap(file)
    rmSync(file)
  }
  return { rss, v8, heap }
}

const committed = (v: V8Stats): number => v.spaces.reduce((a, s) => a + s.space_size, 0)

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-heap-'))
  // --root=<dir>: our node as built in another checkout (a previous build, as the baseline of a change)
  const root = process.argv.find(a => a.startsWith('--root='))?.slice('--root='.length)
  const runtime = root === undefined ? prepareOurs(console.log) : { argv: [join(root, 'dist/src/main.js')], how: `node ${root}/dist/src/main.js` }
  const s = await startSystem(name, runtime, { gcOnSignal: true, heapSnapshotDir: dir, env: { BENCH_HEAP_SNAPSHOT: snapshots ? '1' : '0' } })
  const load = new Worker('bench/workers/mqtt-load.ts', 'mqtt-load')
  try {
    await sleep(1000)
    const m0 = await measure(s.pid, dir)
    console.log(`${name}: 0 clients: RSS ${(m0.rss / 1e6).toFixed(1)} MB${m0.v8 === null ? '' : `, heap used ${(m0.v8.memory.heapUsed / 1e6).toFixed(1)} MB`}`)
    // --idle=<s>: the last step is measured again after this long with nothing happening (V8's memory
    // reducer returns heap pages once allocation has been low for a while, as on an idle broker)
    const idle = Number(process.argv.find(a => a.startsWith('--idle='))?.slice('--idle='.length) ?? '0')
    const plan = idle > 0 ? [...steps, steps.at(-1)!] : steps
    let have = 0
    for (const [i, n] of plan.entries()) {
      const again = i === steps.length
      const res: ConnectResult = again
        ? { connected: n, failed: 0, ms: 0, perSec: 0, firstError: null }
        : await load.call<ConnectResult>({ kind: 'connect', port: s.mqttPort, prefix: `m${have}`, n: n - have, concurrency: 100, subscriptions: 0, qos: 0 })
      have = n
      await sleep(again ? idle * 1000 : 1000)
      if (again) console.log(`(after ${idle} s idle)`)
      const m = await measure(s.pid, dir)
      const per = (a: number, b: number): string => ((a - b) / n).toFixed(0).padStart(6)
      let line = `${name} ${String(n).padStart(6)} clients (${res.failed} failed, ${Math.round(res.perSec)}/s), B/conn:`
      if (!snapshots || !nodeBased) line += ` RSS ${per(m.rss, m0.rss)}`
      if (m.v8 !== null && m0.v8 !== null) {
        line += ` | heap used ${per(m.v8.memory.heapUsed, m0.v8.memory.heapUsed)}, heap committed ${per(committed(m.v8), committed(m0.v8))}, external ${per(m.v8.memory.external, m0.v8.memory.external)}`
        if (!snapshots) line += `, RSS outside the V8 heap ${per(m.rss - committed(m.v8), m0.rss - committed(m0.v8))}`
      }
      console.log(line)
      if (m.v8 !== null && m0.v8 !== null && process.argv.includes('--spaces')) {
        const before = new Map(m0.v8.spaces.map(x => [x.space_name, x]))
        for (const sp of m.v8.spaces) {
          const b = before.get(sp.space_name)
          if (b === undefined) continue
          console.log(`    ${sp.space_name.padEnd(24)} used ${per(sp.space_used_size, b.space_used_size)}, committed ${per(sp.space_size, b.space_size)} (now ${(sp.space_size / 1e6).toFixed(1)} MB)`)
        }
      }
      if (m.heap === null || m0.heap === null) continue
      console.log(`  heap snapshot (self sizes): ${((m.heap.totalBytes - m0.heap.totalBytes) / n).toFixed(0)} B/conn`)
      for (const k of perConnection(m0.heap, m.heap, n, 45)) {
        if (Math.abs(k.bytes) < 4) continue
        console.log(`  ${k.bytes.toFixed(0).padStart(6)} B  ${k.count.toFixed(2).padStart(6)} ×  ${k.kind}`)
      }
    }
  } finally {
    await load.call({ kind: 'release' }).catch(() => {})
    await load.stop()
    await s.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
