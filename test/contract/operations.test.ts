// The spec covers the seed's whole index, with the seed's names, methods and paths, and
// GET /api/v3/ (derived from the spec) lists the seed's 55 entries in the seed's order; beyond them
// only the operations added on purpose (ADDITIONS), which take EMQX v4's names where v4 has them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { operations } from '../../generated/operations.js'
import { handlers } from '../../src/api/operations.js'
import { listApi } from '../../src/api/handlers/api-index.js'
import { spec } from './spec-helpers.js'

type Entry = { name: string, method: string, path: string, descr: string }

/** Operations beyond the seed, by operationId: a new one is listed here, and in PAGINATED_ADDITIONS when it is a list. */
const ADDITIONS = [
  'add_acl', 'list_acl_clientid', 'list_acl_username', 'list_acl_ipaddress', 'list_acl_all',
  'lookup_acl_clientid', 'lookup_acl_username', 'lookup_acl_ipaddress',
  'delete_acl_clientid', 'delete_acl_username', 'delete_acl_ipaddress', 'delete_acl_all'
]
const PAGINATED_ADDITIONS = ['list_acl_all', 'list_acl_clientid', 'list_acl_ipaddress', 'list_acl_username']
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

test('GET /api/v3/ derived from the spec lists the seed\'s entries in the seed\'s order, and beyond them exactly the additions', () => {
  const isSeed = (e: Entry): boolean => seed.some(x => x.name === e.name && x.method === e.method && x.path === e.path)
  assert.deepEqual(listApi().filter(isSeed), seed)
  const added = operations.filter(o => ADDITIONS.includes(o.operationId))
  assert.deepEqual(listApi().filter(e => !isSeed(e)), listApi().filter(e => added.some(o => o.emqxName === e.name && o.method === e.method)))
  assert.equal(listApi().length, seed.length + ADDITIONS.length)
})

test('every operation is the seed\'s or a listed addition', () => {
  const seedOps = operations.filter(o => seed.some(e => e.name === o.emqxName && e.method === o.method) || !o.indexed)
  assert.deepEqual(operations.filter(o => !seedOps.includes(o)).map(o => o.operationId).sort(), [...ADDITIONS].sort())
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

test('paginated operations are exactly the seed\'s paginated lists, the audit log, the retained messages and a session\'s messages', () => {
  assert.deepEqual(operations.filter(o => o.paginated).map(o => o.operationId).sort(), [
    'list_audit', 'list_banned', 'list_connections', 'list_node_connections', 'list_node_sessions', 'list_node_subscriptions',
    'list_retained_messages', 'list_routes', 'list_sessions', 'list_subscriptions',
    'list_session_mqueue_messages', 'list_session_inflight_messages', ...PAGINATED_ADDITIONS
  ].sort())
})

type SpecOp = { operationId: string, 'x-required-role'?: string, security?: unknown[], responses: Record<string, unknown> }
const specOps = (): Array<[string, SpecOp]> => Object.entries(spec.paths as Record<string, Record<string, SpecOp>>)
  .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, SpecOp]))

test('every operation names its role (x-required-role), and the operation table carries it', () => {
  for (const [where, op] of specOps()) {
    const role = op['x-required-role']
    const open = Array.isArray(op.security) && op.security.length === 0
    assert.ok(open ? role === 'none' : ['viewer', 'publisher', 'administrator'].includes(role ?? ''), `${where}: x-required-role ${String(role)}`)
    assert.equal(operations.find(o => o.operationId === op.operationId)?.requiredRole, role)
  }
})

test('reads are for viewers, mqtt/* for publishers, every other change, the audit log and the data export (secret hashes) for administrators', () => {
  for (const o of operations) {
    const expected = o.operationId === 'auth_user'
      ? 'none'
      : o.operationId === 'list_audit' || o.operationId === 'export_data' || o.method !== 'GET'
        ? (['mqtt_publish', 'mqtt_subscribe', 'mqtt_unsubscribe', 'mqtt_publish_batch', 'mqtt_subscribe_batch', 'mqtt_unsubscribe_batch'].includes(o.operationId) ? 'publisher' : 'administrator')
        : 'viewer'
    assert.equal(o.requiredRole, expected, o.operationId)
  }
})

test('every operation with credentials documents its 403 forbidden', () => {
  for (const [where, op] of specOps()) {
    if (op['x-required-role'] === 'none') continue
    assert.deepEqual(op.responses['403'], { $ref: '#/components/responses/Forbidden' }, where)
  }
})

test('the generator refuses an operation without x-required-role', async () => {
  const { spawnSync } = await import('node:child_process')
  const { mkdtempSync, readFileSync: read, rmSync, writeFileSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { fileURLToPath } = await import('node:url')
  const dir = mkdtempSync(join(tmpdir(), 'gen-roles-'))
  try {
    const root = new URL('../../', import.meta.url)
    const yaml = read(new URL('openapi/v3.yaml', root), 'utf8')
    const without = yaml.replace(/\n {6}x-required-role: viewer\n/, '\n')
    assert.notEqual(without, yaml)
    writeFileSync(join(dir, 'v3.yaml'), without)
    const script = fileURLToPath(new URL('scripts/generate-server.mjs', root))
    const r = spawnSync(process.execPath, [script, '--spec', join(dir, 'v3.yaml'), '--out', join(dir, 'out')], { encoding: 'utf8' })
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /has no x-required-role/)
    // and the same script with the role in place generates
    writeFileSync(join(dir, 'v3.yaml'), yaml)
    assert.equal(spawnSync(process.execPath, [script, '--spec', join(dir, 'v3.yaml'), '--out', join(dir, 'out')]).status, 0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
