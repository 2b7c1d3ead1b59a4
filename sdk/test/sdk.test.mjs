// Offline tests of the built SDK (run `npm run build` first): a stub fetch
// stands in for the server, so they check what the client sends and how it
// reads answers, not the server.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createClient, paginate, toApiError, ResponseError } from '../dist/index.js'

const BASE = 'http://127.0.0.1:18083/api/v3'

/** A fetch stub that records requests and answers with route(url, init). */
function stubFetch (route) {
  const calls = []
  const fetchApi = async (input, init = {}) => {
    const url = new URL(String(input))
    calls.push({ method: init.method, url, headers: init.headers ?? {}, body: init.body })
    return route(url, init)
  }
  return { calls, fetchApi }
}

test('createClient: one API instance per tag, base URL and Basic auth', async () => {
  const { calls, fetchApi } = stubFetch(() => Response.json([{ node: 'emqx@127.0.0.1', node_status: 'Running' }]))
  const client = createClient({ baseUrl: `${BASE}/`, username: 'admin', password: 'public', fetchApi })
  assert.equal(typeof client.brokers.listBrokers, 'function')
  assert.equal(typeof client.connections.listConnections, 'function')
  assert.equal(typeof client.banned.createBanned, 'function')

  const brokers = await client.brokers.listBrokers()
  assert.equal(brokers[0].node, 'emqx@127.0.0.1')
  assert.equal(calls[0].method, 'GET')
  assert.equal(calls[0].url.href, `${BASE}/brokers`)
  assert.equal(calls[0].headers.Authorization, `Basic ${Buffer.from('admin:public').toString('base64')}`)
})

test('request bodies and path/query parameters keep their wire names', async () => {
  const { calls, fetchApi } = stubFetch((url, init) =>
    init.method === 'POST' ? Response.json({ ...JSON.parse(init.body), reason: 'undefined', desc: 'undefined', by: 'undefined' }) : Response.json('ok'))
  const client = createClient({ baseUrl: BASE, username: 'admin', password: 'public', fetchApi })

  // Request bodies are passed as `body` (x-codegen-request-body-name in the spec).
  const created = await client.banned.createBanned({ body: { who: 'c1', as: 'client_id' } })
  assert.equal(created.who, 'c1')
  assert.deepEqual(JSON.parse(calls[0].body), { who: 'c1', as: 'client_id' })
  assert.equal(calls[0].headers['Content-Type'], 'application/json')

  assert.equal(await client.banned.deleteBanned({ who: 'a/b c', as: 'client_id' }), 'ok')
  assert.equal(calls[1].method, 'DELETE')
  assert.equal(calls[1].url.pathname, '/api/v3/banned/a%2Fb%20c')
  assert.equal(calls[1].url.searchParams.get('as'), 'client_id')
})

test('paginate walks every page using meta.count/page/limit', async () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ client_id: `c${i}` }))
  const { calls, fetchApi } = stubFetch((url) => {
    const page = Number(url.searchParams.get('_page'))
    const limit = Number(url.searchParams.get('_limit'))
    return Response.json({ items: rows.slice((page - 1) * limit, page * limit), meta: { count: rows.length, page, limit } })
  })
  const client = createClient({ baseUrl: BASE, fetchApi })
  const seen = []
  for await (const c of paginate((p) => client.connections.listConnections(p), { limit: 10 })) seen.push(c.client_id)
  assert.equal(seen.length, 25)
  assert.equal(seen[24], 'c24')
  assert.deepEqual(calls.map((c) => c.url.search), ['?_page=1&_limit=10', '?_page=2&_limit=10', '?_page=3&_limit=10'])
})

test('paginate follows a server-capped meta.limit and stops on an exact last page', async () => {
  const pages = []
  const fetchPage = async ({ _page, _limit }) => {
    pages.push([_page, _limit])
    const limit = Math.min(_limit, 2) // the server caps the page size
    return { items: Array.from({ length: limit }, (_, i) => (_page - 1) * limit + i), meta: { count: 4, page: _page, limit } }
  }
  const all = []
  for await (const n of paginate(fetchPage, { limit: 5 })) all.push(n)
  assert.deepEqual(all, [0, 1, 2, 3])
  assert.deepEqual(pages, [[1, 5], [2, 5]])
})

test('paginate follows meta.cursor while meta.hasnext, and leaves _page out of those requests', async () => {
  const rows = Array.from({ length: 7 }, (_, i) => ({ client_id: `c${i}` }))
  const { calls, fetchApi } = stubFetch((url) => {
    const limit = Number(url.searchParams.get('_limit'))
    const after = url.searchParams.get('_cursor')
    const start = after === null ? 0 : Number(after) + 1
    const items = rows.slice(start, start + limit)
    const hasnext = start + items.length < rows.length
    // a row joins before the cursor meanwhile: a page walk would repeat one, the cursor does not
    if (after !== null) rows.unshift({ client_id: 'late' })
    return Response.json({ items, meta: { count: rows.length, page: 1, limit, hasnext, ...(hasnext ? { cursor: String(start + items.length - 1 + (after === null ? 0 : 1)) } : {}) } })
  })
  const client = createClient({ baseUrl: BASE, fetchApi })
  const seen = []
  for await (const c of paginate((p) => client.connections.listConnections(p), { limit: 3 })) seen.push(c.client_id)
  assert.deepEqual(seen, ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'])
  assert.equal(calls[0].url.search, '?_page=1&_limit=3')
  assert.deepEqual(calls.slice(1).map((c) => [c.url.searchParams.get('_page'), c.url.searchParams.get('_cursor') !== null]), [[null, true], [null, true]])
})

test('paginate stops at meta.hasnext false even when the page is full', async () => {
  const { calls, fetchApi } = stubFetch(() => Response.json({ items: [{ client_id: 'a' }, { client_id: 'b' }], meta: { count: 2, page: 1, limit: 2, hasnext: false } }))
  const client = createClient({ baseUrl: BASE, fetchApi })
  const seen = []
  for await (const c of paginate((p) => client.connections.listConnections(p), { limit: 2 })) seen.push(c.client_id)
  assert.deepEqual(seen, ['a', 'b'])
  assert.equal(calls.length, 1)
})

test('toApiError reads { message, code } of an HTTP error, undefined otherwise', async () => {
  const { fetchApi } = stubFetch(() => Response.json({ message: 'not_found', code: 102 }, { status: 404 }))
  const client = createClient({ baseUrl: BASE, fetchApi })
  const err = await client.connections.lookupConnections({ clientid: 'nope' }).then(() => undefined, (e) => e)
  assert.ok(err instanceof ResponseError)
  assert.deepEqual(await toApiError(err), { status: 404, body: { message: 'not_found', code: 102 } })
  assert.deepEqual(await toApiError(err), { status: 404, body: { message: 'not_found', code: 102 } }, 'can be read twice')
  assert.equal(await toApiError(new Error('boom')), undefined)

  const text = stubFetch(() => new Response('Bad Gateway', { status: 502, statusText: 'Bad Gateway' }))
  const e2 = await createClient({ baseUrl: BASE, fetchApi: text.fetchApi }).brokers.listBrokers().then(() => undefined, (e) => e)
  assert.deepEqual(await toApiError(e2), { status: 502, body: { message: 'Bad Gateway' } })
})
