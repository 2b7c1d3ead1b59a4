// A shared subscription group spread over two cluster nodes: each message reaches one member, once
// cluster-wide, whichever node it was published on; plain subscribers on both nodes get every one.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { IClientOptions, MqttClient } from 'mqtt'
import { eventually, sleep } from '../support/wait.js'
import type { Proc } from '../process.js'
import { SKIP, startCluster } from './harness.js'
import { mqttClient } from '../support/mqtt.js'

const names = ['s1@127.0.0.1', 's2@127.0.0.1'] as const

const client = (t: TestContext, p: Proc, clientId: string, opts: IClientOptions = {}): Promise<MqttClient> => mqttClient(t, p.mqtt, { clientId, ...opts })

function collect (c: MqttClient): string[] {
  const got: string[] = []
  c.on('message', (_topic, payload) => got.push(payload.toString()))
  return got
}

test('a three-member group over two nodes gets each message exactly once cluster-wide', { skip: SKIP, timeout: 120000 }, async (t) => {
  const cl = await startCluster(t, 'shared', names)
  const [n1, n2] = cl.nodes as [Proc, Proc]
  const members: string[][] = []
  for (const [i, p] of [n1, n1, n2].entries()) {
    const c = await client(t, p, `member-${i}`)
    members.push(collect(c))
    await c.subscribeAsync('$share/g/c/t', { qos: 1 })
  }
  const plain = await client(t, n2, 'plain')
  const plainGot = collect(plain)
  await plain.subscribeAsync('c/t', { qos: 1 })
  const pubs = [await client(t, n1, 'pub-1'), await client(t, n2, 'pub-2')]
  const sent: string[] = []
  for (let i = 0; i < 40; i++) {
    sent.push(`m${i}`)
    await (pubs[i % 2] as MqttClient).publishAsync('c/t', `m${i}`, { qos: 1 })
  }
  const all = (): string[] => members.flat().sort()
  await eventually(() => all().length >= 40 && plainGot.length >= 40, 10000)
  await sleep(500)
  assert.deepEqual(all(), [...sent].sort(), 'each message once in the group')
  assert.deepEqual([...plainGot].sort(), [...sent].sort())
  assert.ok(members[2]!.length > 0 && members[0]!.length + members[1]!.length > 0, 'both nodes\' members get some')
})
