// The audit queue (never fails or waits on the request path), redaction, and the two role checks
// of src/api/roles.ts on operation entries, without a server.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { AuditLog, redact, type AuditEvent } from '../../src/services/audit.js'
import { allows, noEscalation, requestedRole } from '../../src/api/roles.js'
import { operations, type OperationEntry } from '../../generated/operations.js'
import type { AuditRecord, Store } from '../../src/store/store.js'

const event = (n: number): AuditEvent => ({
  event: 'request',
  actor: 'admin',
  role: 'administrator',
  sourceIp: '127.0.0.1',
  method: 'POST',
  operation: 'create_user',
  pathParams: {},
  body: { n, password: 'p' },
  status: 200
})

/** A Store whose audit repo is the given functions (nothing else is used by AuditLog). */
function storeWith (audit: Partial<Store['audit']>): Store {
  return { audit: { append: async () => {}, list: async () => ({ count: 0, items: [] }), trim: async () => 0, ...audit } } as unknown as Store
}

function recordingLog (): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { log, lines }
}

test('redact: every secret key at any depth, the seed\'s names too; other values kept; long strings cut', () => {
  const body = {
    username: 'ops',
    password: 'p1',
    old_pwd: 'o',
    new_pwd: 'n',
    secret: 's',
    'auth.user.1.password': 'x',
    nested: { MySecretKey: 'k', list: [{ db_password: 'y', keep: 1 }], ok: true, none: null },
    payload: 'a'.repeat(5000)
  }
  const out = redact(body) as Record<string, any>
  assert.equal(out.username, 'ops')
  for (const k of ['password', 'old_pwd', 'new_pwd', 'secret', 'auth.user.1.password']) assert.equal(out[k], '******', k)
  assert.deepEqual(out.nested, { MySecretKey: '******', list: [{ db_password: '******', keep: 1 }], ok: true, none: null })
  assert.equal((out.payload as string).length < 1100, true)
  assert.match(out.payload as string, /…\(5000 chars\)$/)
  assert.equal(body.password, 'p1', 'the request body itself is not changed')
  assert.deepEqual(redact([{ secret: 1 }, 'x']), [{ secret: '******' }, 'x'])
  assert.equal(redact(undefined), null)
  const proto = redact(JSON.parse('{"__proto__": {"password": "z"}}')) as Record<string, unknown>
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, { password: '******' })
})

test('record() queues and returns at once; the batch is written after, redacted, in order, with unique growing ids', async () => {
  const written: AuditRecord[] = []
  const audit = new AuditLog(storeWith({ append: async (rs) => { written.push(...rs) } }), 'n1@h', () => 100, pino({ level: 'silent' }))
  for (let i = 0; i < 5; i++) audit.record(event(i))
  assert.equal(written.length, 0, 'nothing is written in the caller\'s turn')
  await audit.drain()
  assert.deepEqual(written.map(r => (r.body as { n: number }).n), [0, 1, 2, 3, 4])
  assert.ok(written.every(r => (r.body as { password: string }).password === '******' && r.node === 'n1@h'))
  const ids = written.map(r => r.id)
  assert.deepEqual([...ids].sort(), ids)
  assert.equal(new Set(ids).size, 5)
  assert.deepEqual(audit.stats(), { queued: 0, written: 5, dropped: 0, failed: 0 })
})

test('records queued close together share one store write', async () => {
  const batches: number[] = []
  const audit = new AuditLog(storeWith({ append: async (rs) => { batches.push(rs.length) } }), 'n', () => 100, pino({ level: 'silent' }))
  for (let i = 0; i < 3; i++) {
    audit.record(event(i))
    await new Promise(resolve => setImmediate(resolve))
  }
  await audit.drain()
  assert.deepEqual(batches, [3])
})

test('a failing store: the records are dropped, logged and counted; record() still never throws', async () => {
  const { log, lines } = recordingLog()
  const audit = new AuditLog(storeWith({ append: async () => { throw new Error('disk on fire') } }), 'n', () => 100, log)
  assert.doesNotThrow(() => { audit.record(event(1)); audit.record(event(2)) })
  await audit.drain()
  assert.deepEqual(audit.stats(), { queued: 0, written: 0, dropped: 0, failed: 2 })
  assert.ok(lines.some(l => l.msg === 'audit records could not be written' && l.level === 50))
})

test('the queue is bounded: while the store is stuck, records beyond it are dropped and counted', async () => {
  let release: () => void = () => {}
  const stuck = new Promise<void>(resolve => { release = resolve })
  const { log, lines } = recordingLog()
  const audit = new AuditLog(storeWith({ append: async () => { await stuck } }), 'n', () => 100, log, { queueMax: 3, batch: 1, flushDelayMs: 0 })
  audit.record(event(0))
  await new Promise(resolve => setTimeout(resolve, 5))
  // one batch is in the store's hands; three wait; the rest are dropped
  for (let i = 1; i <= 6; i++) audit.record(event(i))
  assert.equal(audit.stats().queued, 3)
  assert.equal(audit.stats().dropped, 3)
  assert.ok(lines.some(l => l.msg === 'audit queue full, records dropped'))
  release()
  await audit.drain()
  assert.deepEqual(audit.stats(), { queued: 0, written: 4, dropped: 3, failed: 0 })
})

test('the log is trimmed to the live audit.max_records after writes', async () => {
  const trims: number[] = []
  let max = 100
  const audit = new AuditLog(storeWith({ trim: async (m) => { trims.push(m); return 0 } }), 'n', () => max, pino({ level: 'silent' }), { trimEveryMs: 0 })
  audit.record(event(1))
  await audit.drain()
  max = 7
  audit.record(event(2))
  await audit.drain()
  assert.deepEqual(trims.slice(-1), [7])
})

const op = (id: string): OperationEntry => operations.find(o => o.operationId === id) as OperationEntry

test('allows: the caller\'s role must cover x-required-role; an open operation refuses nobody', () => {
  const as = (role: 'viewer' | 'publisher' | 'administrator') => ({ kind: 'user' as const, id: 'u', role })
  assert.equal(allows(op('list_users'), as('viewer')), true)
  assert.equal(allows(op('mqtt_publish'), as('viewer')), false)
  assert.equal(allows(op('mqtt_publish'), as('publisher')), true)
  assert.equal(allows(op('create_user'), as('publisher')), false)
  assert.equal(allows(op('create_user'), as('administrator')), true)
  assert.equal(allows(op('auth_user'), undefined), true)
  assert.equal(allows(op('list_users'), undefined), false)
})

test('noEscalation: a role in the body (or the schema\'s default) above the caller\'s is 403, whatever the operation\'s own role', () => {
  assert.equal(requestedRole(op('create_user'), { username: 'x' }), 'administrator', 'the default counts')
  assert.equal(requestedRole(op('update_user'), { tags: 'x' }), null, 'an update without role asks for nothing')
  assert.equal(requestedRole(op('update_app'), { role: 'viewer' }), 'viewer')
  assert.equal(requestedRole(op('create_banned'), { role: 'administrator' }), null, 'no role field in that body')
  // an operation a publisher could reach that takes a role (none does today): the guard still holds
  const lowered: OperationEntry = { ...op('add_app'), requiredRole: 'publisher' }
  const run = (body: unknown, role: 'viewer' | 'publisher' | 'administrator'): number | 'next' => {
    let status: number | 'next' = 'next'
    const res = { locals: { operation: lowered, principal: { kind: 'app', id: 'a', role } }, setHeader () {}, status (s: number) { status = s; return this }, json () { return this } }
    noEscalation({ body } as never, res as never, () => {})
    return status
  }
  assert.equal(run({ app_id: 'x', role: 'publisher' }, 'publisher'), 'next')
  assert.equal(run({ app_id: 'x', role: 'viewer' }, 'publisher'), 'next')
  assert.equal(run({ app_id: 'x', role: 'administrator' }, 'publisher'), 403)
  assert.equal(run({ app_id: 'x' }, 'publisher'), 403, 'the default (administrator) is above a publisher')
  assert.equal(run({ app_id: 'x' }, 'administrator'), 'next')
})
