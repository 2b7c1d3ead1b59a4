// Test vocabulary: a real node on free ports with a temporary store, real HTTP, real MQTT clients.
// Polling, ports, clients, frames and fakes are in test/support/.
import type { TestContext } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import pino from 'pino'
import type { IClientOptions, MqttClient } from 'mqtt'
import { loadConfig, type Config } from '../src/config.js'
import { startNode, type NodeOptions, type RunningNode } from '../src/node.js'
import { MongoStore } from '../src/store/mongo.js'
import { openClient } from './support/mqtt.js'

export const ADMIN = { user: 'admin', pass: 'public' }

export interface TestNode {
  node: RunningNode
  base: string
  mqttUrl: string
  wsUrl: string
  nodeName: string
  api: (method: string, path: string, opts?: { body?: unknown, raw?: string, auth?: { user: string, pass: string } | null, headers?: Record<string, string> }) => Promise<{ status: number, body: any, headers: Headers }>
  client: (opts?: IClientOptions & { ws?: boolean }) => Promise<MqttClient>
}

let dbCounter = 0

/**
 * TEST_STORE=mongo runs the node on MongoDB (MONGODB_TEST_URL, a fresh database per node) instead
 * of the embedded store, so the same end-to-end suites prove both backends.
 */
function storeEnv (): Record<string, string> {
  if (process.env.TEST_STORE !== 'mongo') return {}
  const url = process.env.MONGODB_TEST_URL
  if (!url) throw new Error('TEST_STORE=mongo needs MONGODB_TEST_URL')
  return { MONGODB_URL: `${url.replace(/\/?$/, '/')}e2e_${process.pid}_${++dbCounter}` }
}

async function dropDatabase (url: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 })
  try {
    await client.db().dropDatabase()
  } catch {
    // the store is gone (a test that stopped it): nothing to drop
  } finally {
    await client.close().catch(() => {})
  }
}

export const testStore = process.env.TEST_STORE === 'mongo' ? 'mongo' : 'embedded'

/** `opts.dataDir`: reuse a data dir (a restart); the caller then removes it. `opts.node`: timings. */
export async function startTestNode (t: TestContext, env: Record<string, string> = {}, opts: { dataDir?: string, node?: NodeOptions } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'emqx-api-test-'))
  const config: Config = loadConfig({
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    API_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    API_VALIDATE_RESPONSES: 'true',
    ...storeEnv(),
    ...env
  })
  const node = await startNode(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), opts.node)
  const clients: MqttClient[] = []
  t.after(async () => {
    await Promise.all(clients.map(c => c.endAsync(true).catch(() => {})))
    const dbUrl = node.store instanceof MongoStore && env.MONGODB_URL === undefined ? config.mongodbUrl : null
    await node.close()
    // after the node is closed: FerretDB (SQLite) crashed with SIGBUS when a database's files went
    // while the node still wrote to it. A database the caller named (a restart) is the caller's to drop.
    if (dbUrl !== null) await dropDatabase(dbUrl)
    if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${node.ports.api}/api/v3`
  return {
    node,
    base,
    nodeName: config.nodeName,
    mqttUrl: `mqtt://127.0.0.1:${node.ports.mqtt}`,
    wsUrl: `ws://127.0.0.1:${node.ports.ws}/mqtt`,
    async api (method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers }
      const auth = opts.auth === undefined ? ADMIN : opts.auth
      if (auth) headers.authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')
      let body: string | undefined
      if (opts.raw !== undefined) body = opts.raw
      else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body)
        headers['content-type'] ??= 'application/json'
      }
      const res = await fetch(base + path, body === undefined ? { method, headers } : { method, headers, body })
      // an event stream never ends: its status and headers are the answer (the events tests read it with EventSource)
      if (res.headers.get('content-type')?.startsWith('text/event-stream') === true) {
        await res.body?.cancel()
        return { status: res.status, body: '', headers: res.headers }
      }
      const text = await res.text()
      let parsed: unknown = text
      try { parsed = JSON.parse(text) } catch {}
      return { status: res.status, body: parsed, headers: res.headers }
    },
    async client (opts = {}) {
      const { ws, ...rest } = opts
      const c = await openClient(ws ? `ws://127.0.0.1:${node.ports.ws}/mqtt` : `mqtt://127.0.0.1:${node.ports.mqtt}`, rest)
      clients.push(c)
      return c
    }
  }
}
