// Cross-node vs single-node throughput: `MONGODB_TEST_URL=... node --import tsx test/cluster/throughput.ts`
// (needs redis-server). Prints a Markdown table for BENCHMARKS.md.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { freePort, startProcess, stop, type Proc } from '../process.js'

const MONGO = process.env.MONGODB_TEST_URL
if (!MONGO) throw new Error('MONGODB_TEST_URL is required')
const N0 = Number(process.env.N0 ?? 20000)
const N1 = Number(process.env.N1 ?? 5000)

async function run (from: Proc, to: Proc, qos: 0 | 1, n: number, tag: string): Promise<number> {
  const sub = await mqtt.connectAsync(to.mqtt, { clientId: `bsub-${tag}`, reconnectPeriod: 0 })
  await sub.subscribeAsync(`bench/${tag}`, { qos })
  const pub = await mqtt.connectAsync(from.mqtt, { clientId: `bpub-${tag}`, reconnectPeriod: 0 })
  await new Promise(resolve => setTimeout(resolve, 300))
  let got = 0
  const done = new Promise<void>(resolve => sub.on('message', () => { if (++got === n) resolve() }))
  const started = process.hrtime.bigint()
  // QoS 0: fire all; QoS 1: up to ${process.env.INFLIGHT ?? 100} in flight
  if (qos === 0) for (let i = 0; i < n; i++) pub.publish(`bench/${tag}`, `m${i}`, { qos })
  else {
    let next = 0
    await Promise.all(Array.from({ length: Number(process.env.INFLIGHT ?? 100) }, async () => {
      while (next < n) { const i = next++; await pub.publishAsync(`bench/${tag}`, `m${i}`, { qos }) }
    }))
  }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([done, new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${tag}: ${got}/${n} received`)), 120000) })])
  } finally {
    clearTimeout(timer) // else it holds the process open for two minutes after the last run
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9
  await pub.endAsync(); await sub.endAsync()
  return Math.round(n / secs)
}

const port = await freePort()
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' })
const dir = mkdtempSync(join(tmpdir(), 'bench-'))
const db = (t: string): string => `${MONGO.replace(/\/?$/, '/')}bench_${t}_${process.pid}`
const procs: Proc[] = []
try {
  await new Promise(resolve => setTimeout(resolve, 500))
  const single = await startProcess({ MONGODB_URL: db('single'), DATA_DIR: join(dir, 's'), NODE_NAME: 'single@127.0.0.1' })
  procs.push(single)
  const env = { MONGODB_URL: db('cluster'), CLUSTER_BUS_URL: `redis://127.0.0.1:${port}`, CLUSTER_SECRET: 'bench-secret-0123456789' }
  const a = await startProcess({ ...env, DATA_DIR: join(dir, 'a'), NODE_NAME: 'a@127.0.0.1' })
  procs.push(a)
  const b = await startProcess({ ...env, DATA_DIR: join(dir, 'b'), NODE_NAME: 'b@127.0.0.1' })
  procs.push(b)
  const rows: Array<[string, number, number]> = []
  for (const [name, from, to] of [['single node (no bus)', single, single], ['cluster, same node', a, a], ['cluster, cross-node', a, b]] as const) {
    const tag = name.replace(/\W+/g, '')
    console.error(`${new Date().toISOString()} ${name}`)
    rows.push([name, await run(from, to, 0, N0, `${tag}0`), await run(from, to, 1, N1, `${tag}1`)])
  }
  console.log(`| path | QoS 0 msg/s (N=${N0}) | QoS 1 msg/s (N=${N1}, ${process.env.INFLIGHT ?? 100} in flight) |\n|---|---:|---:|`)
  for (const [name, q0, q1] of rows) console.log(`| ${name} | ${q0} | ${q1} |`)
} finally {
  for (const p of procs) await stop(p)
  redis.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
