// Crash rounds: a QoS 1 message the server PUBACKed (or answered 200 to POST /mqtt/publish) reaches the
// offline persistent session after a SIGKILL at a random moment and a restart. Duplicates are allowed
// (at least once) and counted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { call, processStores, startProcess, stop, type Proc } from '../process.js'
import { sleep } from '../support/wait.js'

const ROUNDS = 5
const IN_FLIGHT = 50
const SUB = 'crash-sub'

async function connect (url: string, clientId: string, clean: boolean): Promise<MqttClient> {
  const c = mqtt.connect(url, { clientId, clean, reconnectPeriod: 0, connectTimeout: 10000 })
  c.on('error', () => {})
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('close', () => reject(new Error(`${clientId} could not connect`))) })
  return c
}

for (const store of processStores('crashqos1')) {
  // FerretDB is slow: fewer messages before the kill there
  const [minAcks, maxAcks] = store.name === 'embedded' ? [100, 1500] : [20, 150]
  test(`${store.name}: ${ROUNDS} SIGKILL rounds during QoS 1 flow lose no PUBACKed message`, { timeout: 110000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crash-qos1-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    // no queue bound: a full queue drops by design, which is not what is measured here
    const env = { ...store.env, DATA_DIR: dataDir, MQTT_MAX_MQUEUE: '0' }
    let p: Proc = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    const sub = await connect(p.mqtt, SUB, false)
    await sub.subscribeAsync('crash/#', { qos: 1 })
    await sub.endAsync()

    const lostPerRound: number[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      const killAt = minAcks + Math.floor(Math.random() * (maxAcks - minAcks))
      const acked = new Set<string>()
      const pub = await connect(p.mqtt, `crash-pub-${round}`, true)
      let sent = 0
      let inFlight = 0
      let dead = false
      const exited = new Promise<void>(resolve => p.child.once('exit', () => resolve()))
      const pump = (): void => {
        while (!dead && inFlight < IN_FLIGHT) {
          const payload = `${round}:${++sent}`
          inFlight++
          pub.publish('crash/seq', payload, { qos: 1 }, (err) => {
            inFlight--
            if (err != null) return
            // a PUBACK that arrives after the kill was sent was still given: it counts
            acked.add(payload)
            // SIGKILL while acknowledgements are flowing, at a point that differs per round
            // >=, not ===: an API acknowledgement can step the count past killAt
            if (!dead && acked.size >= killAt) { dead = true; p.child.kill('SIGKILL') }
            pump()
          })
        }
      }
      pump()
      // beside it, the API: a 200 is an acknowledgement too
      let apiSent = 0
      const api = (async () => {
        for (;;) {
          if (dead) break
          const payload = `${round}:api-${++apiSent}`
          try {
            const r = await call(p, 'POST', '/mqtt/publish', { topic: 'crash/api', payload, qos: 1, client_id: 'crash-api' })
            if (r.status === 200) acked.add(payload)
          } catch { /* the process died */ }
        }
      })()
      await exited
      await api
      pub.end(true)

      p = await startProcess(env)
      const received: string[] = []
      const back = mqtt.connect(p.mqtt, { clientId: SUB, clean: false, reconnectPeriod: 0 })
      back.on('error', () => {})
      back.on('message', (_topic, payload) => { received.push(payload.toString()) })
      await new Promise<void>((resolve, reject) => { back.once('connect', () => resolve()); back.once('close', () => reject(new Error('subscriber could not resume'))) })
      // everything acknowledged, or nothing new for 3 s
      let seen = -1
      for (let quiet = 0; quiet < 30 && [...acked].some(m => !received.includes(m)); quiet = received.length === seen ? quiet + 1 : 0) {
        seen = received.length
        await sleep(100)
      }
      await back.endAsync()
      const got = new Set(received)
      const lost = [...acked].filter(m => !got.has(m))
      const ofRound = received.filter(m => m.startsWith(`${round}:`))
      const duplicates = ofRound.length - new Set(ofRound).size
      console.log(`${store.name} round ${round}: killed after ${acked.size} acknowledgements (${sent} MQTT and ${apiSent} API publishes sent), received ${ofRound.length}, lost ${lost.length}, duplicates ${duplicates}`)
      lostPerRound.push(lost.length)
    }
    assert.deepEqual(lostPerRound, lostPerRound.map(() => 0), 'PUBACKed but lost, per round')
    assert.equal(await stop(p), 0)
  })
}
