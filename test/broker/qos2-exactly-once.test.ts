// QoS 2 exactly once to a persistent subscriber: its queue replayed on reconnect, after a restart and
// across a takeover, on the SQLite persistence with our broker. Each message is handed to the
// application once (mqtt.js emits a QoS 2 message on PUBREL), none missing, in publish order.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import { connectCollecting, mqttClient } from '../support/mqtt.js'
import { sleep } from '../support/wait.js'
import { startBroker } from '../../src/broker/broker.js'
import type { Broker } from '../../src/broker/broker.js'
import { createSqlitePersistence } from '../../src/broker/sqlite-persistence.js'

const N = 200

/** Our broker on the SQLite persistence in `dataDir`; `stop()` closes both (a restart opens them again). */
async function sqliteBroker (t: TestContext, dataDir: string): Promise<Broker & { stop: () => Promise<void> }> {
  const persistence = await createSqlitePersistence({ dataDir })
  const b = await startBroker({ nodeName: 'emqx@127.0.0.1', host: '127.0.0.1', mqttPort: 0, wsPort: null, persistence, storedSessions: async () => persistence.storedSessions() })
  const stop = async (): Promise<void> => { await b.close(); persistence.close() }
  t.after(stop)
  return Object.assign(b, { stop })
}

function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'qos2-once-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function connect (t: TestContext, b: Broker, opts: IClientOptions): Promise<MqttClient> {
  return await mqttClient(t, `mqtt://127.0.0.1:${b.ports.mqtt}`, opts)
}

async function publishAll (t: TestContext, b: Broker, from: number, to: number): Promise<void> {
  const pub = await connect(t, b, { clientId: `q2-pub-${from}` })
  await Promise.all(Array.from({ length: to - from + 1 }, (_, i) => pub.publishAsync('q2/seq', String(from + i), { qos: 2 })))
  await pub.endAsync()
}

/** Resumes `q2-sub` (recording from its first packet: the queue may come in the same read as CONNACK) until all
 * `N` arrived or nothing came for a second; `got` holds what the application was handed, in order. */
async function resume (t: TestContext, b: Broker, got: number[], opts: IClientOptions = {}): Promise<void> {
  const { received } = await connectCollecting(t, `mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'q2-sub', clean: false, ...opts })
  let seen = -1
  for (let quiet = 0; got.length + received.length < N && quiet < 10; quiet = received.length === seen ? quiet + 1 : 0) {
    seen = received.length
    await sleep(100)
  }
  await sleep(200)
  got.push(...received.map(Number))
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

test('a queue of QoS 2 messages replayed on reconnect is handed over exactly once, in order', async (t) => {
  const b = await sqliteBroker(t, tempDir(t))
  const sub = await connect(t, b, { clientId: 'q2-sub', clean: false })
  await sub.subscribeAsync('q2/#', { qos: 2 })
  await sub.endAsync()
  await publishAll(t, b, 1, N)
  const got: number[] = []
  await resume(t, b, got)
  assert.deepEqual(got, range(1, N))
})

test('QoS 2 messages queued before a restart are handed over exactly once after it', async (t) => {
  const dir = tempDir(t)
  const b = await sqliteBroker(t, dir)
  const sub = await connect(t, b, { clientId: 'q2-sub', clean: false })
  await sub.subscribeAsync('q2/#', { qos: 2 })
  await sub.endAsync()
  await publishAll(t, b, 1, N)
  await b.stop()
  const again = await sqliteBroker(t, dir)
  const got: number[] = []
  await resume(t, again, got)
  assert.deepEqual(got, range(1, N))
})

test('a takeover in the middle of a QoS 2 stream hands every message over exactly once', async (t) => {
  const b = await sqliteBroker(t, tempDir(t))
  // the client's own session state (MQTT-4.1.0-1) lives in its stores: the new connection keeps them
  const stores = { incomingStore: new Store(), outgoingStore: new Store() }
  const got: number[] = []
  const first = await connect(t, b, { clientId: 'q2-sub', clean: false, ...stores })
  await first.subscribeAsync('q2/#', { qos: 2 })
  // a second connection under the same client id once a quarter has arrived
  const takenOver = new Promise<Promise<void>>(resolve => {
    first.on('message', (_topic, payload) => {
      got.push(Number(payload.toString()))
      if (got.length === N / 4) resolve(resume(t, b, got, stores))
    })
  })
  await publishAll(t, b, 1, N)
  await await takenOver
  assert.deepEqual([...got].sort((x, y) => x - y), range(1, N), 'each message once')
})
