// Preloaded (--require) by bench/memory.ts: SIGUSR1 writes into BENCH_HEAP_DIR the process's memory
// figures (process.memoryUsage and V8's heap spaces, `<pid>-<time>.json`) and, unless
// BENCH_HEAP_SNAPSHOT=0, a heap snapshot; each under a temporary name renamed once complete, so the
// reader never sees half a file. (A snapshot grows the process's malloc arenas for good: RSS read
// after one is not the broker's own any more.)
'use strict'
const { renameSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const v8 = require('node:v8')
process.on('SIGUSR1', () => {
  const dir = process.env.BENCH_HEAP_DIR
  if (dir === undefined) return
  const base = join(dir, `${process.pid}-${Date.now()}`)
  const stats = { memory: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics() }
  writeFileSync(`${base}.partial-json`, JSON.stringify(stats))
  renameSync(`${base}.partial-json`, `${base}.json`)
  if (process.env.BENCH_HEAP_SNAPSHOT === '0') return
  const tmp = v8.writeHeapSnapshot(`${base}.partial`)
  renameSync(tmp, `${base}.heapsnapshot`)
})
