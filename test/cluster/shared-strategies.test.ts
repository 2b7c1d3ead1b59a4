// Shared subscriptions over three cluster nodes: the strategy is applied cluster-wide (round_robin
// rotates over every node's members, sticky sticks to one, hash keeps a publisher on one member
// wherever it publishes), and each message reaches the group exactly once, whichever node it was
// published on. Real node processes, Redis and FerretDB.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { eventually, sleep } from '../support/wait.js'
import { call, type Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient } from '../support/mqtt.js'

const names = ['r1@127.0.0.1', 'r2@127.0.0.1', 'r3@127.0.0.1'] as const
const KEY = 'broker.shared_subscription_strategy'

function collect (c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (_topic, payload) => got.push(payload.toString()))
  return got
}

/** sets the strategy through one node and waits until every node reads it */
async function strategy (nodes: Proc[], value: string): Promise<void> {
  assert.equal((await call(nodes[0] as Proc, 'PUT', '/configs/emqx', { key: KEY, value })).body, 'ok')
  for (const p of nodes) {
    await eventually(async () => {
      const all = (await call(p, 'GET', '/configs')).body as Array<{ node: string, config: Array<{ key: string, value: unknown }> }>
      return all.every(n => n.config.find(c => c.key === KEY)?.value === value)
    }, 15000)
  }
}

test('a group over three nodes: each message once, and round_robin, sticky and hash act cluster-wide', { skip: SKIP, timeout: 240000 }, async (t: TestContext) => {
  const cl = await startCluster(t, 'sharedstrat', names)
  const nodes = cl.nodes
  const [n1, n2, n3] = nodes as [Proc, Proc, Proc]
  // four members: two on the first node, one on each of the others
  const members: string[][] = []
  for (const [i, p] of [n1, n1, n2, n3].entries()) {
    const c = await mqttClient(t, p.mqtt, { clientId: `m-${i}` })
    members.push(collect(c))
    await c.subscribeAsync('$share/g/s/t', { qos: 1 })
  }
  const pubs = await Promise.all(nodes.map(async (p, i) => await mqttClient(t, p.mqtt, { clientId: `pub-${i}` })))
  const counts = (): number[] => members.map(m => m.length)
  const all = (): string[] => members.flat().sort()
  const sentAll: string[] = []
  /** publishes `count` messages, `from(i)` naming the publisher of the i-th; waits until the group has them all */
  const round = async (tag: string, count: number, from: (i: number) => number): Promise<number[]> => {
    const before = counts()
    for (let i = 0; i < count; i++) {
      const m = `${tag}${i}`
      sentAll.push(m)
      await (pubs[from(i)] as MqttClient).publishAsync('s/t', m, { qos: 1 })
    }
    await eventually(() => all().length >= sentAll.length, 15000)
    await sleep(500)
    assert.deepEqual(all(), [...sentAll].sort(), `${tag}: each message once in the group`)
    return counts().map((n, i) => n - (before[i] as number))
  }

  await strategy(nodes, 'round_robin')
  // published on all three nodes in turn: the rotation is one over the cluster, not one per node
  assert.deepEqual(await round('rr', 40, i => i % 3), [10, 10, 10, 10], 'round_robin: each member in turn')

  await strategy(nodes, 'sticky')
  const sticky = await round('st', 30, i => i % 3)
  assert.equal(sticky.filter(n => n > 0).length, 1, `sticky: one member gets them all (${sticky.join()})`)

  await strategy(nodes, 'hash')
  // one publisher (on whichever node) → always the same member; so per publisher, one member
  for (const [pi] of pubs.entries()) {
    const got = await round(`h${pi}-`, 12, () => pi)
    assert.equal(got.filter(n => n > 0).length, 1, `hash: publisher ${pi}'s messages on one member (${got.join()})`)
  }

  await strategy(nodes, 'random')
  const random = await round('rn', 60, i => i % 3)
  assert.ok(random.filter(n => n > 0).length >= 2, `random: spread (${random.join()})`)
})
