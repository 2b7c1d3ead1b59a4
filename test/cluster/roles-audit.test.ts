// Roles and the audit log across a cluster: one store, so a role set on one node applies on every
// node, and every node's audit entries are one log (issue 17).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually } from '../support/wait.js'
import { call, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'

const names = ['emqx@ra1', 'emqx@ra2'] as const

test('two nodes: a role set through one node applies on the other; the audit log is one, written by both', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'roles', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  assert.equal((await call(n1, 'POST', '/users', { username: 'ops', password: 'ops-pw', role: 'viewer' })).status, 200)
  assert.equal((await call(n2, 'GET', '/brokers', undefined, 'ops:ops-pw')).status, 200)
  const refused = await call(n2, 'POST', '/banned', { who: 'c1', as: 'client_id' }, 'ops:ops-pw')
  assert.deepEqual([refused.status, refused.body.code], [403, 116])
  assert.equal((await call(n2, 'POST', '/banned', { who: 'c2', as: 'client_id' })).status, 200)
  assert.equal((await call(n1, 'PUT', '/users/ops', { role: 'administrator' })).status, 200)
  assert.equal((await call(n2, 'POST', '/banned', { who: 'c3', as: 'client_id' }, 'ops:ops-pw')).status, 200, 'the raised role applies on the other node at once')

  const want = [
    [names[1], 'ops', 'create_banned', 200],
    [names[0], 'admin', 'update_user', 200],
    [names[1], 'admin', 'create_banned', 200],
    [names[1], 'ops', 'create_banned', 403],
    [names[0], 'admin', 'create_user', 200]
  ]
  for (const p of [n1, n2]) {
    await eventually(async () => {
      const items = (await call(p, 'GET', '/audit')).body.items as Array<{ node: string, actor: string, operation: string, status: number }>
      try {
        assert.deepEqual(items.map(e => [e.node, e.actor, e.operation, e.status]), want)
        return true
      } catch { return false }
    }, 10000)
  }
})
