// A persistent session resumes fast whatever its queue: with 10,000 QoS 1 messages stored, CONNACK
// comes within a second of CONNECT and the whole queue follows, in publish order, none missing. The
// drain rate is printed, not asserted (npm run bench measures it: the stores scenario).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { startProcess, stop, type Proc } from '../process.js'

const QUEUED = 10_000
const WINDOW = 200

test(`embedded: a session with ${QUEUED} queued QoS 1 messages gets CONNACK within 1 s, then its queue in order`, { timeout: 110000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'session-queue-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const p: Proc = await startProcess({ DATA_DIR: dataDir, MQTT_MAX_MQUEUE: '0' })
  t.after(async () => { await stop(p, 'SIGKILL') })

  const sub = await mqtt.connectAsync(p.mqtt, { clientId: 'queue-sub', clean: false, reconnectPeriod: 0 })
  await sub.subscribeAsync('queue/#', { qos: 1 })
  await sub.endAsync()

  const pub = await mqtt.connectAsync(p.mqtt, { clientId: 'queue-pub', reconnectPeriod: 0 })
  let sent = 0
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    let acked = 0
    const pump = (): void => {
      while (sent < QUEUED && sent - acked < WINDOW) {
        pub.publish('queue/seq', String(++sent), { qos: 1 }, (err) => {
          if (err != null) return reject(err)
          if (++acked === QUEUED) resolve(); else pump()
        })
      }
    }
    pump()
  })
  const queuedSec = (performance.now() - t0) / 1000
  await pub.endAsync()

  const got: number[] = []
  const t1 = performance.now()
  let connackMs = 0
  let doneMs = 0
  const back = mqtt.connect(p.mqtt, { clientId: 'queue-sub', clean: false, reconnectPeriod: 0 })
  back.on('connect', () => { connackMs = performance.now() - t1 })
  back.on('message', (_topic, payload) => {
    got.push(Number(payload.toString()))
    if (got.length === QUEUED) doneMs = performance.now() - t1
  })
  const deadline = Date.now() + 60000
  while (got.length < QUEUED && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  await back.endAsync()
  console.log(`queued ${QUEUED} at ${Math.round(QUEUED / queuedSec)}/s; CONNACK after ${connackMs.toFixed(0)} ms; drained in ${(doneMs / 1000).toFixed(2)} s (${Math.round(QUEUED / ((doneMs - connackMs) / 1000))}/s)`)
  assert.ok(connackMs > 0 && connackMs < 1000, `CONNACK after ${connackMs.toFixed(0)} ms`)
  assert.equal(got.length, QUEUED, 'every queued message arrived')
  assert.deepEqual(got, Array.from({ length: QUEUED }, (_, i) => i + 1), 'in publish order')
})
