// The API's share of a busy event loop (src/api/loop-share.ts), with real timers and real loop load.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { LoopShare } from '../../src/api/loop-share.js'

const spin = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end); }
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** other work that keeps the loop busy: `ms` of CPU per turn, until stopped */
function loadLoop (ms: number): () => void {
  let on = true
  const turn = (): void => { if (!on) return; spin(ms); setImmediate(turn) }
  setImmediate(turn)
  return () => { on = false }
}

test('on a quiet loop requests start at once, side by side', async () => {
  const gate = new LoopShare({ share: 0.1, windowMs: 20 })
  await sleep(30)
  const started: number[] = []
  const finish: Array<() => void> = []
  for (let i = 0; i < 5; i++) gate.admit((done) => { started.push(i); finish.push(done) })
  assert.deepEqual(started, [0, 1, 2, 3, 4])
  assert.equal(gate.throttled, false)
  for (const f of finish) f()
})

test('on a busy loop the API takes about its share, one request at a time, and every request is answered', async () => {
  const share = 0.1
  const gate = new LoopShare({ share, windowMs: 50 })
  const stop = loadLoop(5)
  try {
    await sleep(120) // the load is seen after one window
    assert.equal(gate.throttled, true)
    let apiMs = 0
    let running = 0
    let maxRunning = 0
    let answered = 0
    const t0 = performance.now()
    for (let i = 0; i < 60; i++) {
      gate.admit((done) => {
        running++
        maxRunning = Math.max(maxRunning, running)
        // a request worth 4 ms of loop time; its answer is flushed on a later turn
        spin(4)
        apiMs += 4
        running--
        answered++
        done()
      })
    }
    await sleep(1000)
    const elapsed = performance.now() - t0
    assert.equal(maxRunning, 1)
    assert.ok(apiMs / elapsed <= share * 1.6, `API took ${(100 * apiMs / elapsed).toFixed(1)} % of ${elapsed.toFixed(0)} ms`)
    // 4 ms each at a 10 % share: about 25 a second
    assert.ok(answered >= 15, `only ${answered} answered in 1 s`)
    stop()
    await sleep(200) // quiet again: the rest go through at once
    assert.equal(answered, 60)
  } finally {
    stop()
  }
})

test('beyond the queue bound a request is refused and never run', async () => {
  const gate = new LoopShare({ share: 0.1, windowMs: 20, maxQueue: 2 })
  const stop = loadLoop(5)
  try {
    await sleep(60)
    const ran: number[] = []
    const hold: Array<() => void> = []
    const results = [0, 1, 2, 3].map(i => gate.admit((done) => { ran.push(i); hold.push(done) }))
    // one running, two waiting, the fourth refused
    assert.deepEqual(results, [true, true, true, false])
    stop()
    while (ran.length < 3) {
      hold.shift()?.()
      await sleep(30)
    }
    assert.deepEqual(ran, [0, 1, 2])
  } finally {
    stop()
  }
})

test('share 1 is no limit, even on a busy loop', async () => {
  const gate = new LoopShare({ share: 1, windowMs: 20 })
  const stop = loadLoop(5)
  try {
    await sleep(60)
    let started = 0
    for (let i = 0; i < 3; i++) gate.admit(() => { started++ })
    assert.equal(started, 3)
  } finally {
    stop()
  }
})
