// The SDK as its users get it: packed with npm pack, installed into a fresh project that cannot see
// our source tree, compiled with tsc --strict, and run against a live node.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startTestNode } from '../helpers.js'

const sdkDir = fileURLToPath(new URL('../../sdk/', import.meta.url))
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url))

const PROGRAM = `
import { createClient, paginate, toApiError, type Connection } from '@emqx-v3-api/sdk'

declare const process: { env: Record<string, string | undefined>, exitCode: number }

let cursorCalls = 0
const client = createClient({
  baseUrl: process.env.API_URL as string,
  username: 'admin',
  password: 'public',
  middleware: [{ pre: async (ctx) => { if (ctx.url.includes('_cursor=')) cursorCalls++ } }]
})

const brokers = await client.brokers.listBrokers()
const node: string = brokers[0]?.node ?? ''
const published = await client.pubsub.mqttPublish({ body: { topic: 'sdk/hello', payload: 'from a packed sdk', qos: 1 } })
const ids: string[] = []
for await (const c of paginate<Connection>(q => client.connections.listConnections(q), { limit: 2 })) ids.push(c.client_id)
const ban = await client.banned.createBanned({ body: { who: 'sdk-user', as: 'username', reason: 'test' } })
const deleted = await client.banned.deleteBanned({ who: ban.who, as: ban.as })
let notFound: number | undefined
try {
  await client.apps.lookupApp({ appid: 'no-such-app' })
} catch (err) {
  const e = await toApiError(err)
  notFound = e?.status
  if (e?.body.code !== 102) throw new Error('expected code 102')
}

// issue 18's operations
const picked = await client.connections.listConnections({ _like_clientid: 'packed-', fields: 'client_id', _sort: '-client_id', _limit: 1 })
const fields = { first: picked.items[0]?.client_id, keepalive: picked.items[0]?.keepalive, hasnext: picked.meta.hasnext }
const dry = await client.connections.kickoutConnectionsBulk({ _like_clientid: 'packed-', dry_run: 'true' })
const kicked = await client.connections.kickoutConnectionsBulk({ body: ['packed-2', 'ghost'] })
const matched = await client.pubsub.mqttPublish({ body: { topic: 'nobody/listens', payload: 'x' }, with_matched: 'true' })
const batch = await client.pubsub.mqttPublishBatch({ body: [{ topic: 'sdk/a', payload: '1' }, { topic: 'sdk/b', payload: '2', qos: 1 }] })
const subscribed = await client.pubsub.mqttSubscribeBatch({ body: [{ topic: 'sdk/t', qos: 1, client_id: 'packed-0' }, { topic: 'sdk/t', client_id: 'ghost' }] })
const unsubscribed = await client.pubsub.mqttUnsubscribeBatch({ body: [{ topic: 'sdk/t', client_id: 'packed-0' }] })
const onBehalf = await client.pubsub.mqttSubscribe({ body: { topic: 'sdk/q', qos: 1, client_id: 'sdk-offline' }, offline: 'true' })
await client.pubsub.mqttPublish({ body: { topic: 'sdk/q', payload: 'queued', qos: 1 } })
const queued = await client.sessions.listSessionMqueueMessages({ clientid: 'sdk-offline', _limit: 10 })
const inflight = await client.sessions.listSessionInflightMessages({ clientid: 'sdk-offline' })
const issue18 = {
  fields,
  dry: [dry.dry_run, dry.count, dry.clientids],
  kicked: [kicked.clientids, kicked.not_found],
  matched: matched.matched,
  batch: batch.data.map(d => [d.topic, d.code, d.matched]),
  subscribed: subscribed.data.map(d => d.code),
  unsubscribed: unsubscribed.data.map(d => d.code),
  onBehalf: onBehalf.code,
  queued: queued.items.map(m => [m.topic, m.qos, m.payload]),
  inflight: inflight.meta.count,
  cursorCalls
}
console.log(JSON.stringify({ node, published: published.code, ids, ban: ban.as, deleted, notFound, issue18 }))
`

test('npm pack → install in a fresh project → tsc --strict → run against a live node', async (t) => {
  const n = await startTestNode(t)
  for (let i = 0; i < 3; i++) await n.client({ clientId: `packed-${i}` })

  const work = mkdtempSync(join(tmpdir(), 'sdk-consumer-'))
  t.after(() => rmSync(work, { recursive: true, force: true }))
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: sdkDir, stdio: 'pipe' })
  const tarball = readdirSync(work).find(f => f.endsWith('.tgz'))
  assert.ok(tarball, 'npm pack made no tarball')

  const app = join(work, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], outDir: 'out', noUncheckedIndexedAccess: true, skipLibCheck: false }
  }))
  writeFileSync(join(app, 'main.ts'), PROGRAM)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', join(work, tarball)], { cwd: app, stdio: 'pipe' })
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' })

  // async: the node under test runs in this process and must keep answering
  const { stdout: out } = await promisify(execFile)(process.execPath, ['out/main.js'], { cwd: app, env: { ...process.env, API_URL: n.base }, encoding: 'utf8' })
  const result = JSON.parse(out.trim().split('\n').pop() as string)
  assert.deepEqual(result, {
    node: n.nodeName,
    published: 0,
    ids: ['packed-0', 'packed-1', 'packed-2'],
    ban: 'username',
    deleted: 'ok',
    notFound: 404,
    issue18: {
      fields: { first: 'packed-2', hasnext: true },
      dry: [true, 3, ['packed-0', 'packed-1', 'packed-2']],
      kicked: [['packed-2'], ['ghost']],
      matched: false,
      batch: [['sdk/a', 0, false], ['sdk/b', 0, false]],
      subscribed: [0, 112],
      unsubscribed: [0],
      onBehalf: 0,
      queued: [['sdk/q', 1, Buffer.from('queued').toString('base64')]],
      inflight: 0,
      // paginate of 3 connections, 2 a page: the second page by the first one's cursor
      cursorCalls: 1
    }
  })
})
