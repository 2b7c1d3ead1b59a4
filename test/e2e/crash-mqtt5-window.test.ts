// A QoS 1 message the server PUBACKed while it waited for a v5 subscriber's Receive Maximum window
// (src/broker/v5-flow.ts holds it in memory; the session's copy is in the store) reaches that
// subscriber after a SIGKILL of the node and a restart. Duplicates are allowed (at least once).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { once } from 'node:events'
import * as mqttPacket from 'mqtt-packet'
import mqtt from 'mqtt'
import { processStores, startProcess, stop, type Proc } from '../process.js'
import { eventually, sleep } from '../support/wait.js'

const MESSAGES = 20
const SESSION = { clientId: 'win-sub', sessionExpiryInterval: 3600 }

/** A v5 subscriber that never acknowledges: what the server sends it, by payload. */
async function silentSubscriber (url: string): Promise<{ got: () => string[], socket: net.Socket }> {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  await once(socket, 'connect')
  const packets: Array<{ cmd: string, payload?: Buffer }> = []
  const parser = mqttPacket.parser({ protocolVersion: 5 })
  parser.on('packet', (p) => packets.push(p as { cmd: string, payload?: Buffer }))
  socket.on('data', (d: Buffer) => { parser.parse(d) })
  socket.on('error', () => {})
  const send = (p: object): void => { socket.write(mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 5 })) }
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: SESSION.clientId, clean: false, keepalive: 0, properties: { sessionExpiryInterval: SESSION.sessionExpiryInterval, receiveMaximum: 2 } })
  send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'win/#', qos: 1 }] })
  await eventually(() => packets.some(p => p.cmd === 'suback'), { timeoutMs: 10000, what: 'SUBACK' })
  return { got: () => packets.filter(p => p.cmd === 'publish').map(p => String(p.payload)), socket }
}

for (const store of processStores('crashwindow')) {
  test(`${store.name}: messages waiting for a v5 subscriber's Receive Maximum window survive a SIGKILL`, { timeout: 120000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crash-window-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { ...store.env, DATA_DIR: dataDir }
    let p: Proc = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    const sub = await silentSubscriber(p.mqtt)
    t.after(() => { sub.socket.destroy() })
    const pub = await mqtt.connectAsync(p.mqtt, { clientId: 'win-pub', reconnectPeriod: 0 })
    for (let i = 1; i <= MESSAGES; i++) await pub.publishAsync('win/t', `m${i}`, { qos: 1 }) // each one PUBACKed
    pub.end(true)
    await eventually(() => sub.got().length === 2, { timeoutMs: 10000, what: 'the window of two' })
    await sleep(300)
    assert.deepEqual(sub.got(), ['m1', 'm2'], 'the other 18 wait for acknowledgements that never come')

    await stop(p, 'SIGKILL')
    sub.socket.destroy()
    p = await startProcess(env)

    const got = new Set<string>()
    const again = await mqtt.connectAsync(p.mqtt, { protocolVersion: 5, clientId: SESSION.clientId, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: SESSION.sessionExpiryInterval } })
    t.after(() => again.endAsync(true).catch(() => {}))
    again.on('message', (_topic, payload) => got.add(payload.toString()))
    const want = Array.from({ length: MESSAGES }, (_, i) => `m${i + 1}`)
    await eventually(() => want.every(m => got.has(m)), { timeoutMs: 30000, what: () => `all ${MESSAGES} after the restart, missing ${want.filter(m => !got.has(m)).join(',')}` })
  })
}
