// emqx_retainer over a retained store shared by two nodes (as aedes-persistence-mongodb is in a
// cluster): the expiry and the count limit are cluster-wide. A fake shared store keeps whole
// packets, as that persistence does; the cluster end-to-end proof is test/cluster/plugins.test.ts.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { Retainer, type RetainedPacket, type RetainPersistence } from '../../src/plugins/retainer.js'
import { composePersistence } from '../../src/broker/persistence.js'
import type { PluginContext } from '../../src/plugins/plugin.js'
import { MemoryKv } from '../support/fakes.js'
import { eventually, sleep } from '../support/wait.js'

/** topic → packet, as stored; matches '#' and exact topics only */
class SharedRetained {
  readonly packets = new Map<string, RetainedPacket>()
  /** one node's handle on it */
  view (): RetainPersistence {
    const all = (patterns: string[]): RetainedPacket[] =>
      [...this.packets.values()].filter(p => patterns.some(f => f === '#' || f === p.topic)).map(p => ({ ...p }))
    return {
      storeRetained: async (packet) => {
        if ((packet.payload?.length ?? 0) === 0) this.packets.delete(packet.topic)
        else this.packets.set(packet.topic, { ...packet })
      },
      createRetainedStream: (pattern) => Readable.from(all([pattern])),
      createRetainedStreamCombi: (patterns) => Readable.from(all(patterns))
    }
  }
}

/** A retainer for node `name` over `shared`; settings: expiry in seconds, max topics. */
function node (t: TestContext, name: string, shared: SharedRetained, settings: { expiry?: number, max?: number }): { r: Retainer, p: RetainPersistence } {
  const values: Record<string, number> = {
    'retainer.expiry_interval': settings.expiry ?? 0,
    'retainer.max_retained_messages': settings.max ?? 0,
    'retainer.max_payload_size': 1024
  }
  const ctx = {
    node: name,
    store: { kind: 'mongo', kv: new MemoryKv() },
    settings: { number: (key: string) => values[key] },
    log: { warn () {}, info () {} },
    isActive: () => true
  } as unknown as PluginContext
  const r = new Retainer(ctx, 20)
  const p = composePersistence(shared.view(), [r.layer])
  t.after(() => { r.stop() })
  return { r, p }
}

const msg = (topic: string, payload = 'x'): RetainedPacket => ({ topic, payload: Buffer.from(payload) })

async function read (p: RetainPersistence, filter: string): Promise<string[]> {
  const got: string[] = []
  for await (const packet of p.createRetainedStreamCombi([filter]) as AsyncIterable<RetainedPacket>) got.push(packet.topic)
  return got.sort()
}

/** what a PUBLISH with the retain flag does through aedes: keep?, then store */
async function publish (n: { r: Retainer, p: RetainPersistence }, topic: string, payload = 'x'): Promise<boolean> {
  if (!n.r.keep(topic, Buffer.from(payload))) return false
  await n.p.storeRetained(msg(topic, payload))
  return true
}

test('a message stored through one node carries its time: another node does not deliver it once expired', async (t) => {
  const shared = new SharedRetained()
  const a = node(t, 'a', shared, { expiry: 0.2 })
  const b = node(t, 'b', shared, { expiry: 0.2 })
  await a.r.load()
  await b.r.load()
  await publish(a, 'e/1')
  assert.equal(typeof shared.packets.get('e/1')?.retainedAt, 'number')
  assert.deepEqual(await read(b.p, '#'), ['e/1'])
  await sleep(250)
  assert.deepEqual(await read(b.p, '#'), [])
  // and b removed it from the shared store
  await eventually(() => !shared.packets.has('e/1'), 1000)
})

test('a node sweeps expired messages stored through another node, which may be gone', async (t) => {
  const shared = new SharedRetained()
  const a = node(t, 'a', shared, { expiry: 0.2 })
  const b = node(t, 'b', shared, { expiry: 0.2 })
  await b.r.load()
  b.r.start()
  // a never sweeps (it is not started: as if it died); b, which learns of them only from the store, does
  await publish(a, 'e/1')
  await publish(a, 'e/2')
  await sleep(100)
  assert.equal(shared.packets.size, 2, 'not before they expire')
  await eventually(() => shared.packets.size === 0, 2000)
})

test('the count limit counts the topics retained through every node', async (t) => {
  const shared = new SharedRetained()
  const a = node(t, 'a', shared, { max: 2 })
  const b = node(t, 'b', shared, { max: 2 })
  await a.r.load()
  await b.r.load()
  b.r.start()
  assert.equal(await publish(a, 'c/1'), true)
  assert.equal(await publish(a, 'c/2'), true)
  await sleep(150) // b reads the shared set again
  assert.equal(await publish(b, 'c/3'), false, 'a third topic, through b, is not kept')
  assert.equal(await publish(b, 'c/1', 'new'), true, 'replacing one is')
  assert.deepEqual(await read(b.p, '#'), ['c/1', 'c/2'])
  // a clear through a frees a place on b too
  await publish(a, 'c/2', '')
  await sleep(150)
  assert.equal(await publish(b, 'c/3'), true)
  assert.deepEqual(await read(a.p, '#'), ['c/1', 'c/3'])
})
