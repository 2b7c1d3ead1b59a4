// The persistence chain: layers stack in the order given, whatever order the modules ran in; the
// backend's own calls to its own methods never pass through a layer; Cleanup undoes a start in reverse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { composePersistence, type PersistenceLayer, type PersistenceLike } from '../../src/broker/persistence.js'
import { readAfterWipe } from '../../src/broker/upstream.js'
import { createSqlitePersistence } from '../../src/broker/sqlite-persistence.js'
import { Cleanup } from '../../src/core/cleanup.js'

interface Named { name (): string, shout (s: string): string }

test('layers stack in the order given: the first is nearest the base, each calls the one beneath', async () => {
  class Base implements Named {
    readonly #secret = 'base'
    name (): string { return this.#secret } // a private field: works only with `this` the base itself
    shout (s: string): string { return s.toUpperCase() }
  }
  const tag = (t: string): PersistenceLayer<Named> => next => ({ name: () => `${t}(${next.name()})` })
  const p = composePersistence<Named>(new Base(), [tag('a'), tag('b'), tag('c')])
  assert.equal(p.name(), 'c(b(a(base)))')
  assert.equal(p.shout('x'), 'X', 'a method no layer changes is the base\'s own')
})

test('the SQLite backend\'s outgoingEnqueue calls its own outgoingEnqueueCombi, unseen by a layer above it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'emqx-chain-'))
  const base = await createSqlitePersistence({ dataDir: dir })
  t.after(async () => { await base.destroy(); rmSync(dir, { recursive: true, force: true }) })
  const seen: string[] = []
  const watch: PersistenceLayer = next => ({
    async outgoingEnqueue (sub, packet) { seen.push('enqueue'); await next.outgoingEnqueue(sub, packet) },
    async outgoingEnqueueCombi (subs, packet) { seen.push('combi'); await next.outgoingEnqueueCombi(subs, packet) }
  })
  const p = composePersistence(base as unknown as PersistenceLike, [watch])
  // aedes checks this of every persistence
  assert.equal((p as unknown as { setup: () => unknown }).setup.constructor.name, 'AsyncFunction')
  await (p as unknown as { setup: (b: unknown) => Promise<void> }).setup({ id: 'b1', counter: 0 })
  await p.outgoingEnqueue({ clientId: 'c1' }, { topic: 't', payload: Buffer.from('x') })
  assert.deepEqual(seen, ['enqueue'], 'seen once: the backend\'s inner call is its own')
  assert.equal(base.storedSessions()[0]?.queued, 1)
})

test('Cleanup runs its steps once, last added first, past a failing one, and throws the first failure', async () => {
  const ran: number[] = []
  const c = new Cleanup()
  c.add(() => { ran.push(1) })
  c.add(async () => { ran.push(2); throw new Error('two') })
  c.add(() => { ran.push(3); throw new Error('three') })
  await assert.rejects(c.run(), /three/)
  assert.deepEqual(ran, [3, 2, 1])
  await c.run()
  assert.deepEqual(ran, [3, 2, 1], 'not again')
})

test('Cleanup.abort undoes what was acquired and rethrows the start\'s own error', async () => {
  const ran: string[] = []
  const c = new Cleanup()
  c.add(() => { ran.push('store') })
  c.add(() => { throw new Error('cleanup failed too') })
  await assert.rejects(c.abort(new Error('port taken')), /port taken/)
  assert.deepEqual(ran, ['store'])
})

test('readAfterWipe: a CONNECT\'s session read waits for that client id\'s wipe still under way, and only that id\'s', async () => {
  // a store whose wipe finishes when the test says: the race a slow MongoDB opened
  const subs = new Map<string, string[]>([['c1', ['a/#']], ['c2', ['b/#']]])
  let finishWipe = (): void => {}
  const base = {
    async cleanSubscriptions (client: { id: string }) {
      await new Promise<void>(resolve => { finishWipe = resolve })
      subs.delete(client.id)
    },
    async subscriptionsByClient (client: { id: string }) { return subs.get(client.id) ?? null }
  } as unknown as PersistenceLike
  const p = composePersistence(base, [readAfterWipe])
  const wipe = p.cleanSubscriptions({ id: 'c1' })
  assert.deepEqual(await p.subscriptionsByClient({ id: 'c2' }), ['b/#'], 'another id does not wait')
  const read = p.subscriptionsByClient({ id: 'c1' })
  setTimeout(() => { finishWipe() }, 20)
  assert.equal(await read, null, 'the ended session is not read as present')
  await wipe
})
