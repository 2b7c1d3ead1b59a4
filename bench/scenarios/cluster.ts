/**
 * Scenario 5: the cluster path. Messages per second from one publisher to one subscriber (mqtt.js, as a
 * client application would) on one node without a bus, on one node of a two-node cluster, and across
 * its two nodes (through the Redis bus). Needs redis-server and a MongoDB-wire server in
 * MONGODB_TEST_URL (the cluster tests' FerretDB); skipped with the reason when either is missing.
 */
import { MongoClient } from 'mongodb'
import type { MqttClient } from 'mqtt'
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { spread, type Spread } from '../lib/stats.js'
import { startSystem, type System } from '../systems.js'
import { openClient } from '../../test/support/mqtt.js'
import { HAS_REDIS, startRedis, type Redis } from '../../test/support/redis.js'
import { sleep } from '../../test/support/wait.js'

export const CLUSTER_PATHS = ['single node (no bus)', 'cluster, same node', 'cluster, cross-node'] as const
export type ClusterPath = typeof CLUSTER_PATHS[number]

export interface ClusterResult {
  qos0Messages: number
  qos1Messages: number
  inflight: number
  paths: Array<{ path: ClusterPath, qos0PerSec: Spread, qos1PerSec: Spread }>
}

const INFLIGHT = 100
const SECRET = 'bench-cluster-secret-0123456789'

/** Why the scenario cannot run here, or null. */
export function clusterSkipReason (): string | null {
  if (process.env.MONGODB_TEST_URL === undefined) return 'cluster: MONGODB_TEST_URL not set (a MongoDB-wire server, e.g. FerretDB by scripts/ferretdb.sh)'
  if (!HAS_REDIS) return 'cluster: redis-server not installed (apt-get install -y redis-server)'
  return null
}

/** `n` messages from `pub` to `sub` on one topic; QoS 1 keeps INFLIGHT publishes outstanding. Messages per second. */
async function rate (pub: MqttClient, sub: MqttClient, qos: 0 | 1, n: number, limitMs: number): Promise<number> {
  const topic = `bench/${tag('c')}`
  await sub.subscribeAsync(topic, { qos })
  let got = 0
  let timer: NodeJS.Timeout | undefined
  const done = new Promise<void>((resolve, reject) => {
    sub.on('message', (t) => { if (t === topic && ++got === n) resolve() })
    timer = setTimeout(() => reject(new Error(`${topic}: ${got}/${n} received within ${limitMs} ms`)), limitMs)
  })
  const started = performance.now()
  try {
    if (qos === 0) for (let i = 0; i < n; i++) pub.publish(topic, `m${i}`, { qos })
    else {
      let next = 0
      await Promise.all(Array.from({ length: INFLIGHT }, async () => {
        while (next < n) { const i = next++; await pub.publishAsync(topic, `m${i}`, { qos }) }
      }))
    }
    await done
  } finally {
    clearTimeout(timer)
    sub.removeAllListeners('message')
    await sub.unsubscribeAsync(topic)
  }
  return n / ((performance.now() - started) / 1000)
}

export async function runCluster (ctx: Ctx): Promise<ClusterResult> {
  const base = (process.env.MONGODB_TEST_URL as string).replace(/\/?$/, '/')
  const dbs = [`bench_single_${process.pid}_${Date.now()}`, `bench_cluster_${process.pid}_${Date.now()}`]
  const { qos0, qos1 } = ctx.p.clusterMessages
  const limitMs = ctx.mode === 'quick' ? 30_000 : 120_000
  let redis: Redis | null = null
  const systems: System[] = []
  const clients: MqttClient[] = []
  try {
    redis = await startRedis()
    const single = await startSystem('ours-mongo', ctx.runtime, { mongoUrl: base + dbs[0], env: { NODE_NAME: 'single@127.0.0.1' } })
    systems.push(single)
    const env = { CLUSTER_BUS_URL: redis.url, CLUSTER_SECRET: SECRET }
    // the first node alone: it creates the admin user in the shared store
    const a = await startSystem('ours-mongo', ctx.runtime, { mongoUrl: base + dbs[1], env: { ...env, NODE_NAME: 'a@127.0.0.1' } })
    systems.push(a)
    const b = await startSystem('ours-mongo', ctx.runtime, { mongoUrl: base + dbs[1], env: { ...env, NODE_NAME: 'b@127.0.0.1' } })
    systems.push(b)
    const ends: Record<ClusterPath, [System, System]> = { 'single node (no bus)': [single, single], 'cluster, same node': [a, a], 'cluster, cross-node': [a, b] }
    const samples = new Map<ClusterPath, { q0: number[], q1: number[] }>(CLUSTER_PATHS.map(p => [p, { q0: [], q1: [] }]))
    for (let r = 0; r < ctx.p.smallRounds; r++) {
      for (const path of rotate(CLUSTER_PATHS, r)) {
        const [from, to] = ends[path]
        const sub = await openClient(`mqtt://127.0.0.1:${to.mqttPort}`, { clientId: tag('csub') })
        clients.push(sub)
        const pub = await openClient(`mqtt://127.0.0.1:${from.mqttPort}`, { clientId: tag('cpub') })
        clients.push(pub)
        await sleep(300) // the subscription's route reaches the other node
        const s = samples.get(path) as { q0: number[], q1: number[] }
        s.q0.push(await rate(pub, sub, 0, qos0, limitMs))
        s.q1.push(await rate(pub, sub, 1, qos1, limitMs))
        await Promise.all([pub.endAsync(), sub.endAsync()])
        ctx.log(`  ${path}: QoS 0 ${Math.round(s.q0.at(-1) as number)}/s, QoS 1 ${Math.round(s.q1.at(-1) as number)}/s`)
      }
    }
    return {
      qos0Messages: qos0,
      qos1Messages: qos1,
      inflight: INFLIGHT,
      paths: CLUSTER_PATHS.map(path => ({ path, qos0PerSec: spread(samples.get(path)?.q0 ?? []), qos1PerSec: spread(samples.get(path)?.q1 ?? []) }))
    }
  } finally {
    await Promise.all(clients.map(c => c.endAsync(true).catch(() => {})))
    for (const s of systems.reverse()) await s.stop()
    redis?.stop()
    const mongo = new MongoClient(base, { serverSelectionTimeoutMS: 5000 })
    try {
      for (const db of dbs) await mongo.db(db).dropDatabase()
    } catch (err) {
      ctx.log(`  could not drop the bench databases: ${String(err)}`)
    } finally {
      await mongo.close()
    }
  }
}
