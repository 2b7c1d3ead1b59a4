// The spec covers the seed's whole index, with the seed's names, methods and paths, and
// GET /api/v3/ (derived from the spec) lists exactly the seed's 55 entries in the seed's order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { operations } from '../../generated/operations.js'
import { handlers } from '../../src/api/operations.js'
import { listApi } from '../../src/api/handlers/api-index.js'
import { spec } from './spec-helpers.js'

type Entry = { name: string, method: string, path: string, descr: string }
const seed = JSON.parse(readFileSync(new URL('../fixtures/seed-index.json', import.meta.url), 'utf8')) as Entry[]

test('the fixture is the seed document\'s index (when the reference is beside the checkout)', (t) => {
  const doc = new URL('../../../shared/reference/emqx-v3-rest-api.txt', import.meta.url)
  if (!existsSync(doc)) return t.skip('shared/reference not beside the checkout')
  const text = readFileSync(doc, 'utf8')
  const start = text.indexOf('Response:\n\n[') + 'Response:\n\n'.length
  let depth = 0
  let end = start
  for (; end < text.length; end++) {
    if (text[end] === '[') depth++
    if (text[end] === ']' && --depth === 0) break
  }
  assert.deepEqual(JSON.parse(text.slice(start, end + 1)), seed)
})

test('the seed index has 55 entries', () => {
  assert.equal(seed.length, 55)
})

test('every seed operation is in the spec with the same method and path', () => {
  const norm = (p: string): string => ('/' + p.replace(/^\//, '')).replace(/\/$/, '') || '/'
  for (const e of seed) {
    const matches = operations.filter(o => o.emqxName === e.name && o.method === e.method && norm(o.path.replace(/\{([^}]+)\}/g, ':$1')) === norm(e.path))
    assert.equal(matches.length, 1, `${e.name} ${e.method} ${e.path} is not in the spec exactly once`)
  }
})

test('GET /api/v3/ derived from the spec equals the seed\'s listing, in order', () => {
  assert.deepEqual(listApi(), seed)
})

test('operationIds are unique and every one has a handler, and no handler lacks an operation', () => {
  const ids = operations.map(o => o.operationId)
  assert.equal(new Set(ids).size, ids.length)
  assert.deepEqual(Object.keys(handlers).sort(), [...ids].sort())
})

test('every operation but POST /auth needs Basic auth', () => {
  assert.deepEqual((spec.security as unknown[]), [{ basicAuth: [] }])
  assert.deepEqual(operations.filter(o => !o.secured).map(o => o.operationId), ['auth_user'])
})

test('paginated operations are exactly the seed\'s paginated lists', () => {
  assert.deepEqual(operations.filter(o => o.paginated).map(o => o.operationId).sort(), [
    'list_banned', 'list_connections', 'list_node_connections', 'list_node_sessions', 'list_node_subscriptions',
    'list_routes', 'list_sessions', 'list_subscriptions'
  ])
})
