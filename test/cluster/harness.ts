// Real node processes sharing one fresh MongoDB database and one Redis bus, for the cluster tests.
// Needs MONGODB_TEST_URL (FerretDB: scripts/ferretdb.sh) and redis-server on PATH; SKIP says why not.
import type { TestContext } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '../support/wait.js'
import { call, startProcess, type Proc } from '../process.js'
import { HAS_REDIS, startRedis as startRedisServer } from '../support/redis.js'

export const MONGO = process.env.MONGODB_TEST_URL
export const SKIP = !MONGO
  ? 'MONGODB_TEST_URL not set: start FerretDB with scripts/ferretdb.sh'
  : !HAS_REDIS ? 'redis-server not installed (apt-get install -y redis-server)' : false

export const SECRET = 'cluster-test-secret-0123456789'

/** a fresh database on the test server, unique to this run */
export const mongoUrl = (tag: string): string => `${(MONGO as string).replace(/\/?$/, '/')}cluster_${tag}_${process.pid}_${Date.now()}`

export async function startRedis (t: TestContext): Promise<string> {
  const redis = await startRedisServer()
  t.after(() => { redis.stop() })
  return redis.url
}

export interface Cluster { env: Record<string, string>, nodes: Proc[], start: (name: string) => Promise<Proc> }

/** Starts one node per name (the first alone: it creates the admin user) and waits until every node lists all as Running. */
export async function startCluster (t: TestContext, tag: string, names: readonly string[], extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const bus = await startRedis(t)
  const dataDir = mkdtempSync(join(tmpdir(), `cluster-${tag}-`))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { MONGODB_URL: mongoUrl(tag), CLUSTER_BUS_URL: bus, CLUSTER_SECRET: SECRET, API_VALIDATE_RESPONSES: 'true', ...extraEnv }
  const procs: Proc[] = []
  t.after(() => { for (const p of procs) p.child.kill('SIGKILL') })
  const start = async (name: string): Promise<Proc> => {
    const p = await startProcess({ ...env, NODE_NAME: name, DATA_DIR: join(dataDir, name) })
    procs.push(p)
    return p
  }
  const [first, ...others] = names
  const nodes = [await start(first as string), ...await Promise.all(others.map(start))]
  // a node is listed once it claimed its name, Running once its API answers
  for (const p of nodes) {
    await eventually(async () => {
      const all = (await call(p, 'GET', '/nodes')).body
      return all.length === names.length && all.every((n: any) => n.node_status === 'Running')
    }, 15000)
  }
  return { env, nodes, start }
}
