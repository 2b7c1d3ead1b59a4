// The API's share of the event loop while the broker is busy (src/api/loop-share.ts), with real
// timers and real loop load.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { LoopShare, packetRate } from '../../src/api/loop-share.js'
import { sleep } from '../support/wait.js'

const spin = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end); }
/** other work that keeps the loop busy: `ms` of CPU per turn, until stopped; `on` is the busy signal */
function loadLoop (ms: number): { stop: () => void, busy: () => boolean } {
  let on = true
  const turn = (): void => { if (!on) return; spin(ms); setImmediate(turn) }
  setImmediate(turn)
  return { stop: () => { on = false }, busy: () => on }
}

test('on a quiet loop requests start at once, side by side', async () => {
  const gate = new LoopShare({ share: 0.1, windowMs: 20, busy: () => false })
  const started: number[] = []
  const finish: Array<() => void> = []
  for (let i = 0; i < 5; i++) gate.admit((done) => { started.push(i); finish.push(done) })
  assert.deepEqual(started, [0, 1, 2, 3, 4])
  assert.equal(gate.throttled, false)
  for (const f of finish) f()
})

test('on a busy loop the API takes about its share, one request at a time, and every request is answered', async () => {
  const share = 0.1
  const load = loadLoop(5)
  const stop = load.stop
  const gate = new LoopShare({ share, windowMs: 50, busy: load.busy })
  try {
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
  const load = loadLoop(5)
  const stop = load.stop
  const gate = new LoopShare({ share: 0.1, windowMs: 20, maxQueue: 2, busy: load.busy })
  try {
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
  const load = loadLoop(5)
  const stop = load.stop
  const gate = new LoopShare({ share: 1, windowMs: 20, busy: load.busy })
  try {
    let started = 0
    for (let i = 0; i < 3; i++) gate.admit(() => { started++ })
    assert.equal(started, 3)
  } finally {
    stop()
  }
})

test('busy is a packet rate measured between checks', async () => {
  let packets = 0
  const busy = packetRate(() => packets, 1000)
  await sleep(100)
  packets += 50 // 500 a second
  assert.equal(busy(), false)
  await sleep(100)
  packets += 200 // 2000 a second
  assert.equal(busy(), true)
})
