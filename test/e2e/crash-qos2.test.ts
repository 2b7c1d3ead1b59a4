// Crash rounds at QoS 2: a message the server answered with PUBREC reaches the offline persistent
// session after a SIGKILL and a restart, and once, although the publisher (its session resumed, its
// mqtt.js stores kept) sends the unreleased ones again; those sent but not yet PUBRECed arrive too
// (the publisher sends them again). Exactly once: none lost, no duplicates.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { Store, type IClientOptions, type MqttClient } from 'mqtt'
import { startProcess, stop, type Proc } from '../process.js'
import { sleep } from '../support/wait.js'

const ROUNDS = 5
const IN_FLIGHT = 50
const SUB = 'crash2-sub'

async function connect (url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10000, ...opts })
  c.on('error', () => {})
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('close', () => reject(new Error(`${String(opts.clientId)} could not connect`))) })
  return c
}

// `retain`: every message is retained too. aedes stores the retained copy before it queues the message for the
// offline session: two writes, and a crash between them must not turn the publisher's resend into a "duplicate"
async function crashRounds (t: TestContext, retain: boolean): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'crash-qos2-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, MQTT_MAX_MQUEUE: '0' }
  let p: Proc = await startProcess(env)
  t.after(() => { p.child.kill('SIGKILL') })

  const sub = await connect(p.mqtt, { clientId: SUB, clean: false })
  await sub.subscribeAsync('crash2/#', { qos: 2 })
  await sub.endAsync()

  const failures: string[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    // SIGKILL at a moment of its own, not in step with the acknowledgements
    const killAfterMs = 300 + Math.floor(Math.random() * 1200)
    const stores = { incomingStore: new Store(), outgoingStore: new Store() }
    const pubOpts = { clientId: `crash2-pub-${round}`, clean: false, ...stores }
    const pub = await connect(p.mqtt, pubOpts)
    const payloadOf = new Map<number, string>()
    const recd = new Set<string>()
    const sentAll = new Set<string>()
    let sent = 0
    let inFlight = 0
    let dead = false
    pub.on('packetsend', (pk) => {
      if (pk.cmd === 'publish' && pk.messageId !== undefined) payloadOf.set(pk.messageId, pk.payload.toString())
    })
    // PUBREC is the acknowledgement of QoS 2: the server has the message
    pub.on('packetreceive', (pk) => {
      if (pk.cmd !== 'pubrec' || pk.messageId === undefined) return
      const payload = payloadOf.get(pk.messageId)
      if (payload !== undefined) recd.add(payload)
    })
    const exited = new Promise<void>(resolve => p.child.once('exit', () => resolve()))
    const pump = (): void => {
      while (inFlight < IN_FLIGHT) {
        if (dead) return
        const payload = `${round}:${++sent}`
        sentAll.add(payload)
        inFlight++
        pub.publish('crash2/seq', payload, { qos: 2, retain }, () => { inFlight--; pump() })
      }
    }
    pump()
    setTimeout(() => { dead = true; p.child.kill('SIGKILL') }, killAfterMs)
    await exited
    // not end(): mqtt.js closes its stores then, and the resumed session needs them
    pub.removeAllListeners('packetreceive')

    p = await startProcess(env)
    // the publisher resumes its session: mqtt.js sends what was not released again (PUBLISH with DUP, or PUBREL)
    const again = await connect(p.mqtt, pubOpts)
    const received: string[] = []
    const back = mqtt.connect(p.mqtt, { clientId: SUB, clean: false, reconnectPeriod: 0 })
    back.on('error', () => {})
    back.on('message', (_topic, payload) => { received.push(payload.toString()) })
    let seen = -1
    for (let quiet = 0; quiet < 30 && [...sentAll].some(m => !received.includes(m)); quiet = received.length === seen ? quiet + 1 : 0) {
      seen = received.length
      await sleep(100)
    }
    await sleep(500)
    await back.endAsync()
    await again.endAsync(true)
    const ofRound = received.filter(m => m.startsWith(`${round}:`))
    const got = new Set(ofRound)
    const lost = [...recd].filter(m => !got.has(m))
    // the ones not yet PUBRECed were sent again by the resumed publisher: they arrive too
    const notArrived = [...sentAll].filter(m => !got.has(m))
    const duplicates = ofRound.length - got.size
    const unknown = ofRound.filter(m => !sentAll.has(m))
    console.log(`round ${round}: killed after ${recd.size} PUBRECs (${sent} sent), received ${ofRound.length}, PUBRECed but lost ${lost.length}, sent but never arrived ${notArrived.length}, duplicates ${duplicates}`)
    if (notArrived.length > 0 || duplicates > 0 || unknown.length > 0) failures.push(`round ${round}: lost ${lost.length} PUBRECed and ${notArrived.length - lost.length} other, duplicates ${duplicates}`)
  }
  assert.deepEqual(failures, [])
  assert.equal(await stop(p), 0)
}

test(`embedded: ${ROUNDS} SIGKILL rounds during QoS 2 flow hand every PUBRECed message over exactly once`, { timeout: 110000 }, async (t) => {
  await crashRounds(t, false)
})

test(`embedded: ${ROUNDS} SIGKILL rounds during retained QoS 2 flow hand every PUBRECed message over exactly once`, { timeout: 110000 }, async (t) => {
  await crashRounds(t, true)
})
