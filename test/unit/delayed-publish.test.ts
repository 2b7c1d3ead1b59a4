// emqx_delayed_publish in a cluster, over a fake shared store: the live nodes take over the pending
// messages of a stopped node, and a message is published once even when several nodes hold it.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DelayedPublish } from '../../src/plugins/delayed-publish.js'
import type { PluginContext } from '../../src/plugins/plugin.js'
import type { PublishRequest } from '../../src/broker/broker.js'
import type { MemberRecord } from '../../src/store/store.js'
import { MemoryKv } from '../support/fakes.js'
import { eventually, sleep } from '../support/wait.js'

/** the shared store: kv and members */
class Shared {
  readonly kv = new MemoryKv()
  readonly members = new Map<string, MemberRecord>()
  readonly published: Array<{ node: string, topic: string }> = []

  member (name: string, live: boolean, instance = 'i1'): void {
    const now = Date.now()
    this.members.set(name, { name, instance, apiUrl: '', version: '', otpRelease: '', startedAt: now, heartbeatAt: live ? now + 60000 : now - 60000, running: live })
  }

  pending (node: string): string[] { return this.kv.keys(`delayed@${node}`) }
}

function node (t: TestContext, shared: Shared, name: string): DelayedPublish {
  const store = {
    kind: 'mongo',
    kv: shared.kv,
    members: { list: async () => [...shared.members.values()].sort((x, y) => x.name.localeCompare(y.name)) }
  }
  const ctx = {
    node: name,
    store,
    log: { warn () {}, info () {} },
    broker: () => ({ publish: async (m: PublishRequest) => { shared.published.push({ node: name, topic: m.topic }) } }),
    isActive: () => true
  } as unknown as PluginContext
  const d = new DelayedPublish(ctx, 20)
  t.after(() => { d.stop() })
  return d
}

const delayed = (topic: string): PublishRequest => ({ topic, payload: Buffer.from('x'), qos: 1, retain: false })

test('the live nodes take over a stopped node\'s pending messages; one of them publishes each, once', async (t) => {
  const shared = new Shared()
  for (const n of ['n1', 'n2', 'n3']) shared.member(n, true)
  const [n1, n2, n3] = [node(t, shared, 'n1'), node(t, shared, 'n2'), node(t, shared, 'n3')]
  await Promise.all([n1.start(), n3.start()])
  assert.equal(n2.intercept(null, delayed('$delayed/1/d/late')), true)
  assert.equal(n2.intercept(null, delayed('$delayed/0/d/due')), true)
  n2.stop() // before its timers fire: the messages stay stored
  await sleep(100)
  assert.equal(shared.published.length, 0, 'nothing is taken over from a live node')
  assert.equal(shared.pending('n2').length, 2)

  shared.member('n2', false)
  await eventually(() => shared.published.length === 1, 1000)
  assert.equal(shared.published[0]?.topic, 'd/due')
  await eventually(() => shared.published.length === 2, 2000)
  await sleep(100)
  assert.deepEqual(shared.published.map(p => p.topic), ['d/due', 'd/late'])
  assert.deepEqual(shared.pending('n2'), [])
})

test('a node back under its name publishes its own; the others drop what they took over', async (t) => {
  const shared = new Shared()
  shared.member('n1', true)
  shared.member('n2', true)
  const n1 = node(t, shared, 'n1')
  await n1.start()
  const n2 = node(t, shared, 'n2')
  n2.intercept(null, delayed('$delayed/1/d/x'))
  n2.stop()
  shared.member('n2', false)
  await sleep(100) // n1 has taken it over
  shared.member('n2', true, 'i2') // back, its plugin not started yet
  await sleep(1200) // past the due time
  assert.deepEqual(shared.published, [])
  const again = node(t, shared, 'n2')
  await again.start()
  await eventually(() => shared.published.length === 1, 2000)
  await sleep(100)
  assert.deepEqual(shared.published, [{ node: 'n2', topic: 'd/x' }])
})

test('a node that is not a cluster member takes nothing over', async (t) => {
  const shared = new Shared()
  shared.member('n2', false)
  const n1 = node(t, shared, 'n1')
  await n1.start()
  const n2 = node(t, shared, 'n2')
  n2.intercept(null, delayed('$delayed/0/d/x'))
  n2.stop()
  await sleep(150)
  assert.deepEqual(shared.published, [])
})
