// GET /prometheus/stats, read by a real parser of the text format: the same names and values as
// /metrics and /stats, prom-client's process figures, open or behind credentials by prometheus.auth.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import parsePrometheus from 'parse-prometheus-text-format'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'
import { promName } from '../../src/services/prometheus.js'

type Families = ReturnType<typeof parsePrometheus>

async function scrape (n: TestNode, query = ''): Promise<Families> {
  const r = await n.api('GET', `/prometheus/stats${query}`, { auth: null })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parsePrometheus(r.body as string)
}

/** the value of a family's one series of this node */
function valueOf (fams: Families, name: string, node: string): number | undefined {
  const f = fams.find(x => x.name === name)
  const s = f?.metrics.find(m => m.labels?.node === node)
  return s === undefined ? undefined : Number(s.value)
}

test('a scrape has every /metrics counter and /stats gauge of the node, by name and value, and process figures', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'p-sub' })
  await sub.subscribeAsync(['p/#', 'q'], { qos: 1 })
  const pub = await n.client({ clientId: 'p-pub', ws: true })
  for (let i = 0; i < 5; i++) await pub.publishAsync('p/x', 'hi', { qos: 1 })
  await pub.publishAsync('nobody/here', 'x', { qos: 0 })
  await eventually(async () => (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body['messages/qos1/sent'] === 5)
  // MQTT is quiet now: the counters stand still between the reads
  const fams = await scrape(n)
  const metrics = (await n.api('GET', `/nodes/${n.nodeName}/metrics`)).body as Record<string, number>
  const stats = (await n.api('GET', `/nodes/${n.nodeName}/stats`)).body as Record<string, number>
  assert.ok(Object.keys(metrics).length >= 43)
  for (const [k, v] of Object.entries({ ...metrics, ...stats })) {
    assert.equal(valueOf(fams, promName(k), n.nodeName), v, `${k} as ${promName(k)}`)
  }
  assert.equal(valueOf(fams, 'emqx_connections_count', n.nodeName), 2)
  assert.equal(valueOf(fams, 'emqx_messages_qos1_received', n.nodeName), 5)
  assert.equal(fams.find(f => f.name === 'emqx_packets_connect')?.type, 'COUNTER')
  assert.equal(fams.find(f => f.name === 'emqx_subscriptions_count')?.type, 'GAUGE')
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
    assert.ok(Number.isFinite(valueOf(fams, name, n.nodeName)), `${name} is there`)
  }
  // none that walks every client's socket or descriptor on each scrape
  for (const name of ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_resources']) assert.equal(fams.find(f => f.name === name), undefined, name)
  // the other modes of a single node: the same series; aggregated ones have no node label
  const self = await scrape(n, '?mode=node')
  assert.equal(valueOf(self, 'emqx_connections_count', n.nodeName), 2)
  const agg = await scrape(n, '?mode=all_nodes_aggregated')
  const conns = agg.find(f => f.name === 'emqx_connections_count')?.metrics
  assert.deepEqual(conns?.map(m => [m.labels ?? {}, Number(m.value)]), [[{}, 2]])
})

test('prometheus.auth=true: a scrape needs the API\'s credentials; a bad mode is a 400', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('GET', '/prometheus/stats?mode=everything', { auth: null })).status, 400)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'prometheus.auth', value: 'maybe' } })).status, 400)
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'prometheus.auth', value: 'true' } })).status, 200)
  const open = await n.api('GET', '/prometheus/stats', { auth: null })
  assert.equal(open.status, 401)
  assert.equal(open.headers.get('www-authenticate')?.startsWith('Basic'), true)
  assert.equal((await n.api('GET', '/prometheus/stats', { auth: { user: 'admin', pass: 'wrong' } })).status, 401)
  const withCreds = await n.api('GET', '/prometheus/stats')
  assert.equal(withCreds.status, 200)
  assert.ok(parsePrometheus(withCreds.body as string).some(f => f.name === 'emqx_packets_connect'))
  assert.equal((await n.api('PUT', '/configs/emqx', { body: { key: 'prometheus.auth', value: 'false' } })).status, 200)
  assert.equal((await n.api('GET', '/prometheus/stats', { auth: null })).status, 200)
})

test('docs/grafana-dashboard.json uses only metric names a real scrape has', async (t) => {
  const n = await startTestNode(t)
  const names = new Set((await scrape(n)).map(f => f.name))
  // a histogram's series are its family name + _bucket/_sum/_count
  for (const f of await scrape(n)) if (f.type === 'HISTOGRAM') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s)
  const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'))
  const exprs: string[] = []
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk)
    else if (typeof x === 'object' && x !== null) {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'expr' && typeof v === 'string') exprs.push(v)
        else walk(v)
      }
    }
  }
  walk(dashboard)
  assert.ok(exprs.length >= 8, `only ${exprs.length} expressions`)
  // metric names are the identifiers not followed by "(" (functions) and not inside {...} or [...] or by/without (...)
  const PROMQL = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset'])
  for (const e of exprs) {
    const bare = e.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '').replace(/"[^"]*"/g, '')
    const used = [...bare.replace(/\$__\w+/g, '').matchAll(/(?<![\w:])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:])(?!\s*\()/g)].map(m => m[0]).filter(w => !PROMQL.has(w) && !/^\d/.test(w))
    assert.ok(used.length > 0, `no metric in ${e}`)
    for (const m of used) assert.ok(names.has(m), `${m} (in ${e}) is not in a scrape`)
  }
})
