// Filters, _sort and cursors of the lists (EMQX v4's names), from what real MQTT clients did.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

const ids = (r: { body: any }): string[] => r.body.items.map((c: any) => c.client_id)

async function connections (n: TestNode, query: string): Promise<{ status: number, body: any }> {
  return await n.api('GET', query === '' ? '/connections' : `/connections?${query}`)
}

/** Follows meta.cursor from the first page to the last; every page says hasnext. */
async function walk (n: TestNode, path: string, limit: number): Promise<{ rows: any[], pages: number }> {
  const rows: any[] = []
  let cursor: string | undefined
  let pages = 0
  for (;;) {
    const sep = path.includes('?') ? '&' : '?'
    const r = await n.api('GET', `${path}${sep}_limit=${limit}${cursor !== undefined ? `&_cursor=${cursor}` : ''}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(typeof r.body.meta.hasnext, 'boolean')
    rows.push(...r.body.items)
    pages++
    if (!r.body.meta.hasnext) {
      assert.equal(r.body.meta.cursor, undefined)
      return { rows, pages }
    }
    cursor = r.body.meta.cursor
    assert.equal(typeof cursor, 'string')
  }
}

test('connection filters: exact, substring, address and CIDR, protocol, clean start, times; combined with AND', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'sensor-1', username: 'sensors', password: 'x' })
  await n.client({ clientId: 'sensor-2', username: 'sensors', password: 'x', clean: false, protocolVersion: 3, protocolId: 'MQIsdp' })
  await n.client({ clientId: 'panel-1', username: 'ops', password: 'x', ws: true })
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 3)

  assert.deepEqual(ids(await connections(n, 'clientid=sensor-2')), ['sensor-2'])
  assert.deepEqual(ids(await connections(n, '_like_clientid=sensor')), ['sensor-1', 'sensor-2'])
  assert.deepEqual(ids(await connections(n, 'username=ops')), ['panel-1'])
  assert.deepEqual(ids(await connections(n, '_like_username=en')), ['sensor-1', 'sensor-2'])
  assert.deepEqual(ids(await connections(n, 'proto_ver=3')), ['sensor-2'])
  assert.deepEqual(ids(await connections(n, 'clean_start=false')), ['sensor-2'])
  assert.deepEqual(ids(await connections(n, 'conn_state=connected')).length, 3)
  assert.deepEqual(ids(await connections(n, 'conn_state=disconnected')), [])
  assert.equal((await connections(n, 'ip_address=127.0.0.1')).body.meta.count, 3)
  assert.equal((await connections(n, 'ip_address=127.0.0.0/8')).body.meta.count, 3)
  assert.equal((await connections(n, 'ip_address=10.0.0.0/8')).body.meta.count, 0)
  const now = Math.floor(Date.now() / 1000)
  assert.equal((await connections(n, `_gte_connected_at=${now - 60}`)).body.meta.count, 3)
  assert.equal((await connections(n, `_lte_connected_at=${now - 60}`)).body.meta.count, 0)
  assert.equal((await connections(n, `_gte_created_at=${now - 60}&_lte_created_at=${now + 60}`)).body.meta.count, 3)
  // the API's own datetime format works the same as epoch seconds
  const [first] = (await connections(n, 'clientid=panel-1')).body.items
  assert.deepEqual(ids(await connections(n, `_gte_connected_at=${encodeURIComponent(first.connected_at)}&username=ops`)), ['panel-1'])
  // AND: each filter narrows the others
  const both = await connections(n, '_like_clientid=sensor&clean_start=true&_limit=1')
  assert.deepEqual(ids(both), ['sensor-1'])
  assert.deepEqual(both.body.meta, { count: 1, limit: 1, page: 1, hasnext: false })
  // the per-node list takes the same filters
  assert.deepEqual(ids(await n.api('GET', `/nodes/${n.nodeName}/connections?_like_clientid=panel`)), ['panel-1'])
})

test('bad filter values are a 400 with the catalog codes, and unknown keys stay a 400', async (t) => {
  const n = await startTestNode(t)
  for (const [q, code] of [
    ['ip_address=10.0.0.300', 108], ['ip_address=10.0.0.0/33', 108], ['ip_address=nope', 108],
    ['_gte_created_at=yesterday', 108], ['_lte_connected_at=2024-02-31%2010:00:00', 108],
    ['proto_ver=9', 108], ['clean_start=maybe', 108], ['conn_state=idle', 108],
    ['_sort=password', 108], ['_sort=-', 108], ['_cursor=%21%21', 108], ['_cursor=eyJ4IjoxfQ', 108],
    ['_like_clientids=x', 108]
  ] as const) {
    const r = await connections(n, q)
    assert.equal(r.status, 400, q)
    assert.equal(r.body.code, code, `${q}: ${JSON.stringify(r.body)}`)
    assert.equal(typeof r.body.message, 'string')
  }
  const sub = await n.api('GET', '/subscriptions?_match_topic=a/%23')
  assert.equal(sub.status, 400)
  assert.equal(sub.body.code, 115)
  assert.equal((await n.api('GET', '/routes?_match_topic=a/%2B/c')).body.code, 115)
  assert.equal((await n.api('GET', '/subscriptions?qos=3')).status, 400)
  assert.equal((await n.api('GET', '/sessions?_gte_mqueue_len=-1')).status, 400)
})

test('_sort orders by a field (descending with -), ties by the documented order; bad cursors are refused', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'b', keepalive: 10 })
  await n.client({ clientId: 'a', keepalive: 30 })
  await n.client({ clientId: 'c', keepalive: 30 })
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 3)
  assert.deepEqual(ids(await connections(n, '_sort=keepalive')), ['b', 'a', 'c'])
  assert.deepEqual(ids(await connections(n, '_sort=-keepalive')), ['a', 'c', 'b'])
  assert.deepEqual(ids(await connections(n, '_sort=-client_id')), ['c', 'b', 'a'])
  assert.deepEqual(ids(await connections(n, '')), ['a', 'b', 'c'])

  const first = await connections(n, '_sort=-keepalive&_limit=2')
  assert.equal(first.body.meta.hasnext, true)
  const next = await connections(n, `_sort=-keepalive&_limit=2&_cursor=${first.body.meta.cursor}`)
  assert.deepEqual(ids(next), ['b'])
  assert.deepEqual(next.body.meta, { count: 3, limit: 2, page: 2, hasnext: false })
  // a cursor belongs to its _sort, and does not mix with _page
  const other = await connections(n, `_sort=keepalive&_cursor=${first.body.meta.cursor}`)
  assert.equal(other.status, 400)
  assert.equal(other.body.code, 108)
  const mixed = await connections(n, `_sort=-keepalive&_page=2&_cursor=${first.body.meta.cursor}`)
  assert.equal(mixed.status, 400)
  assert.equal(mixed.body.code, 108)
})

test('a cursor stays valid while clients come and go: no row repeats or is skipped', async (t) => {
  const n = await startTestNode(t)
  const clients = new Map<string, Awaited<ReturnType<TestNode['client']>>>()
  for (const id of ['k1', 'k3', 'k5', 'k7', 'k9']) clients.set(id, await n.client({ clientId: id }))
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 5)
  const p1 = await connections(n, '_limit=2')
  assert.deepEqual(ids(p1), ['k1', 'k3'])
  assert.deepEqual(Object.keys(p1.body.meta).sort(), ['count', 'cursor', 'hasnext', 'limit', 'page'])
  // k1 (already seen) leaves and k0 (before the cursor) arrives: an offset would now skip k5
  clients.get('k1')!.end(true)
  await n.client({ clientId: 'k0' })
  await n.client({ clientId: 'k4' })
  await eventually(async () => {
    const l = ids(await connections(n, ''))
    return l.join() === 'k0,k3,k4,k5,k7,k9'
  })
  const p2 = await connections(n, `_limit=2&_cursor=${p1.body.meta.cursor}`)
  assert.deepEqual(ids(p2), ['k4', 'k5'])
  const p3 = await connections(n, `_limit=2&_cursor=${p2.body.meta.cursor}`)
  assert.deepEqual(ids(p3), ['k7', 'k9'])
  assert.equal(p3.body.meta.hasnext, false)
  assert.equal(p3.body.meta.count, 6)
  // hasnext is on page-numbered answers too
  assert.deepEqual((await connections(n, '_page=3&_limit=2')).body.meta, { count: 6, limit: 2, page: 3, hasnext: false })
  assert.equal((await connections(n, '_page=1&_limit=2')).body.meta.hasnext, true)
  const walked = await walk(n, '/connections?_sort=-client_id', 4)
  assert.deepEqual(walked.rows.map(r => r.client_id), ['k9', 'k7', 'k5', 'k4', 'k3', 'k0'])
  assert.equal(walked.pages, 2)
})

test('sessions: conn_state, _gte_mqueue_len and the client filters on offline persistent sessions', async (t) => {
  const n = await startTestNode(t)
  const off = await n.client({ clientId: 'offline-1', clean: false, username: 'u1', password: 'x' })
  await new Promise<void>((resolve, reject) => off.subscribe('q/1', { qos: 1 }, e => e ? reject(e) : resolve()))
  off.end(true)
  await n.client({ clientId: 'online-1', username: 'u2', password: 'x' })
  await eventually(async () => (await n.api('GET', '/sessions?conn_state=disconnected')).body.meta.count === 1)
  const pub = await n.client({ clientId: 'pub' })
  for (let i = 0; i < 3; i++) await pub.publishAsync('q/1', `m${i}`, { qos: 1 })
  await eventually(async () => (await n.api('GET', '/sessions?_gte_mqueue_len=3')).body.meta.count === 1)
  assert.deepEqual(ids(await n.api('GET', '/sessions?_gte_mqueue_len=3')), ['offline-1'])
  assert.deepEqual(ids(await n.api('GET', '/sessions?_gte_mqueue_len=4')), [])
  assert.deepEqual(ids(await n.api('GET', '/sessions?conn_state=disconnected')), ['offline-1'])
  assert.deepEqual(ids(await n.api('GET', '/sessions?conn_state=connected&_like_clientid=-1')), ['online-1'])
  assert.deepEqual(ids(await n.api('GET', '/sessions?clean_start=false')), ['offline-1'])
  // connection-only filters match online clients only
  assert.deepEqual(ids(await n.api('GET', '/sessions?ip_address=127.0.0.1&_like_clientid=line')), ['online-1'])
  assert.deepEqual(ids(await n.api('GET', '/sessions?_sort=-mqueue_len&_limit=1')), ['offline-1'])
  assert.deepEqual(ids(await n.api('GET', `/nodes/${n.nodeName}/sessions?username=u1`)), ['offline-1'])
})

test('subscriptions and routes: exact filters, share group, and _match_topic through the topic matcher', async (t) => {
  const n = await startTestNode(t)
  const c1 = await n.client({ clientId: 's1' })
  const c2 = await n.client({ clientId: 's2' })
  const sub = (c: typeof c1, topic: string, qos: 0 | 1 | 2): Promise<void> =>
    new Promise((resolve, reject) => c.subscribe(topic, { qos }, e => e ? reject(e) : resolve()))
  await sub(c1, 'a/b/c', 0)
  await sub(c1, 'a/+/c', 1)
  await sub(c2, 'a/#', 2)
  await sub(c2, '$share/g1/a/b/+', 1)
  await sub(c2, 'x/y', 0)
  await sub(c2, '#', 0)
  await eventually(async () => (await n.api('GET', '/subscriptions')).body.meta.count === 6)
  const topics = (r: { body: any }): string[] => r.body.items.map((s: any) => `${s.client_id}:${s.topic}`)
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?_match_topic=a/b/c')),
    ['s1:a/+/c', 's1:a/b/c', 's2:#', 's2:$share/g1/a/b/+', 's2:a/#'])
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?_match_topic=x/y&clientid=s2')), ['s2:#', 's2:x/y'])
  // a $ topic is not matched by a filter starting with a wildcard [MQTT-4.7.2-1]
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?_match_topic=$SYS/x')), [])
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?share=g1')), ['s2:$share/g1/a/b/+'])
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?qos=1')), ['s1:a/+/c', 's2:$share/g1/a/b/+'])
  assert.deepEqual(topics(await n.api('GET', `/subscriptions?topic=${encodeURIComponent('a/#')}`)), ['s2:a/#'])
  assert.deepEqual(topics(await n.api('GET', '/subscriptions?_sort=-qos&_limit=1')), ['s2:a/#'])
  assert.deepEqual(topics(await n.api('GET', `/nodes/${n.nodeName}/subscriptions?_match_topic=a/x/c`)), ['s1:a/+/c', 's2:#', 's2:a/#'])

  const routes = await n.api('GET', '/routes?_match_topic=a/b/c')
  assert.deepEqual(routes.body.items.map((r: any) => r.topic), ['#', 'a/#', 'a/+/c', 'a/b/+', 'a/b/c'])
  assert.equal(routes.body.meta.count, 5)
  // the matcher follows unsubscribes
  await new Promise<void>((resolve, reject) => c2.unsubscribe('#', e => e ? reject(e) : resolve()))
  await eventually(async () => (await n.api('GET', '/routes?_match_topic=x/y')).body.meta.count === 1)
  const walked = await walk(n, '/routes?_sort=-topic', 2)
  assert.deepEqual(walked.rows.map(r => r.topic), ['x/y', 'a/b/c', 'a/b/+', 'a/+/c', 'a/#'])
})

test('banned: as and _like_who, sorted and cursor-paged; apps and users: _like_name', async (t) => {
  const n = await startTestNode(t)
  for (const [who, as] of [['10.0.0.1', 'ip_address'], ['10.0.0.2', 'ip_address'], ['bad-1', 'client_id'], ['bad-2', 'username']]) {
    const r = await n.api('POST', '/banned', { body: { who, as, reason: 'test' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
  }
  const whos = (r: { body: any }): string[] => r.body.items.map((b: any) => `${b.as}:${b.who}`)
  assert.deepEqual(whos(await n.api('GET', '/banned?as=ip_address')), ['ip_address:10.0.0.1', 'ip_address:10.0.0.2'])
  assert.deepEqual(whos(await n.api('GET', '/banned?_like_who=bad')), ['client_id:bad-1', 'username:bad-2'])
  assert.deepEqual(whos(await n.api('GET', '/banned?_like_who=bad&as=username')), ['username:bad-2'])
  assert.deepEqual(whos(await n.api('GET', '/banned?_sort=-who&_limit=1')), ['username:bad-2'])
  const walked = await walk(n, '/banned?_sort=who', 3)
  assert.deepEqual(walked.rows.map(b => b.who), ['10.0.0.1', '10.0.0.2', 'bad-1', 'bad-2'])
  assert.equal((await n.api('GET', '/banned?as=ip')).status, 400)
  assert.equal((await n.api('GET', '/banned?_sort=reason')).body.code, 108)

  assert.equal((await n.api('POST', '/apps', { body: { app_id: 'ci-1', name: 'CI runner' } })).status, 200)
  assert.equal((await n.api('POST', '/apps', { body: { app_id: 'mon-1', name: 'Monitoring' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/apps?_like_name=CI')).body.map((a: any) => a.app_id), ['ci-1'])
  assert.deepEqual((await n.api('GET', '/apps?_like_name=nothing')).body, [])
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops-anna', password: 'secret-1', tags: 'viewer' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users?_like_name=ops-')).body.map((u: any) => u.username), ['ops-anna'])
  assert.equal((await n.api('GET', '/users?_like_name=')).status, 400)
  assert.equal((await n.api('GET', '/users?name=x')).status, 400)
  // _sort on the unpaged lists too: by name descending, ties by id; an unknown field is a 400
  assert.deepEqual((await n.api('GET', '/apps?_sort=-name')).body.map((a: any) => a.name).filter((x: string) => ['CI runner', 'Monitoring'].includes(x)), ['Monitoring', 'CI runner'])
  assert.deepEqual((await n.api('GET', '/apps?_sort=app_id')).body.map((a: any) => a.app_id).filter((x: string) => ['ci-1', 'mon-1'].includes(x)), ['ci-1', 'mon-1'])
  assert.equal((await n.api('GET', '/apps?_sort=secret')).status, 400)
  assert.equal((await n.api('POST', '/users', { body: { username: 'ops-bert', password: 'secret-2', tags: 'administrator' } })).status, 200)
  assert.deepEqual((await n.api('GET', '/users?_like_name=ops-&_sort=-username')).body.map((u: any) => u.username), ['ops-bert', 'ops-anna'])
  assert.deepEqual((await n.api('GET', '/users?_like_name=ops-&_sort=tags')).body.map((u: any) => u.tags), ['administrator', 'viewer'])
  assert.equal((await n.api('GET', '/users?_sort=password')).status, 400)
})

test('Accept: application/x-ndjson streams the whole filtered, sorted list, one row per line', async (t) => {
  const n = await startTestNode(t)
  for (let i = 0; i < 12; i++) await n.client({ clientId: `nd-${String(i).padStart(2, '0')}` })
  await n.client({ clientId: 'other' })
  await eventually(async () => (await n.api('GET', '/connections')).body.meta.count === 13)
  const res = await fetch(`${n.base}/connections?_like_clientid=nd-&_sort=-client_id&_limit=2`, {
    headers: { accept: 'application/x-ndjson', authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` }
  })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/)
  const text = await res.text()
  assert.ok(text.endsWith('\n'))
  const rows = text.trimEnd().split('\n').map(l => JSON.parse(l))
  // _limit does not page a stream: every match, in the _sort order
  assert.deepEqual(rows.map(r => r.client_id), Array.from({ length: 12 }, (_, i) => `nd-${String(11 - i).padStart(2, '0')}`))
  assert.equal(rows[0].node, n.nodeName)
  // a bad filter is still a JSON 400 before anything is streamed
  const bad = await fetch(`${n.base}/connections?ip_address=x`, {
    headers: { accept: 'application/x-ndjson', authorization: `Basic ${Buffer.from('admin:public').toString('base64')}` }
  })
  assert.equal(bad.status, 400)
  assert.equal((await bad.json() as any).code, 108)
  // JSON stays the default
  assert.equal((await n.api('GET', '/connections?_limit=2')).body.items.length, 2)
})
