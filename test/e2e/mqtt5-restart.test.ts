// MQTT 5 state across a restart of a real server process, on both stores: queued messages keep
// their Message Expiry Interval (an expired one is dropped, the others carry what is left).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IPublishPacket } from 'mqtt'
import { eventually, sleep } from '../support/wait.js'
import { call, processStores, startProcess, stop } from '../process.js'

for (const store of processStores('v5restart')) {
  test(`${store.name}: queued v5 messages keep their expiry across a restart; the expired one is not delivered`, { timeout: 120000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'v5restart-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { ...store.env, DATA_DIR: dataDir }
    let p = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    const opts = { protocolVersion: 5 as const, clientId: 'v5-away', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } }
    const away = await mqtt.connectAsync(p.mqtt, opts)
    await away.subscribeAsync('v5r/t', { qos: 1 })
    await away.endAsync()
    const pub = await mqtt.connectAsync(p.mqtt, { protocolVersion: 5, clientId: 'v5-pub', reconnectPeriod: 0 })
    const sentAt = Date.now()
    await pub.publishAsync('v5r/t', 'short', { qos: 1, properties: { messageExpiryInterval: 2 } })
    await pub.publishAsync('v5r/t', 'long', { qos: 1, properties: { messageExpiryInterval: 100, contentType: 'text/plain', userProperties: { k: 'v' } } })
    await pub.publishAsync('v5r/t', 'forever', { qos: 1 })
    await pub.endAsync()

    assert.equal(await stop(p), 0)
    p = await startProcess(env)
    const wait = 2500 - (Date.now() - sentAt)
    if (wait > 0) await sleep(wait) // past the short one's expiry

    const back = mqtt.connect(p.mqtt, opts)
    const got: IPublishPacket[] = []
    back.on('message', (_t, _p, packet) => got.push(packet))
    t.after(() => back.endAsync(true))
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { back.once('connect', resolve); back.once('error', reject) })
    assert.equal(connack.sessionPresent, true)
    await eventually(() => got.length >= 2, 5000)
    await sleep(300)
    assert.deepEqual(got.map(m => m.payload.toString()), ['long', 'forever'])
    const left = got[0]!.properties?.messageExpiryInterval ?? 0
    assert.ok(left > 80 && left <= 98, `the remaining interval is sent: ${left}`)
    assert.equal(got[0]!.properties?.contentType, 'text/plain')
    assert.deepEqual({ ...got[0]!.properties?.userProperties }, { k: 'v' })
    assert.equal(got[1]!.properties?.messageExpiryInterval, undefined)
  })
}

/** long enough for a restart on a busy machine */
const SHORT = 20

for (const store of processStores('v5expiry')) {
  test(`${store.name}: a v5 session's own expiry survives a restart (a short one ends on time, a long one resumes); 3.1.1 keeps its default`, { timeout: 120000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'v5expiry-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { ...store.env, DATA_DIR: dataDir }
    let p = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    const v5 = (clientId: string, sessionExpiryInterval: number): mqtt.IClientOptions => ({ protocolVersion: 5, clientId, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval } })
    for (const [id, opts] of [['short', v5('short', SHORT)], ['long', v5('long', 3600)], ['v311', { clientId: 'v311', clean: false, reconnectPeriod: 0 }]] as const) {
      const c = await mqtt.connectAsync(p.mqtt, opts)
      await c.subscribeAsync(`v5e/${id}`, { qos: 1 })
      await c.endAsync()
    }
    const leftAt = Date.now()
    assert.equal(await stop(p), 0)
    p = await startProcess(env)
    const listed = async (id: string): Promise<any> => (await call(p, 'GET', `/sessions/${id}`)).body[0]
    assert.equal((await listed('short'))?.expiry_interval, SHORT, 'restored with its own expiry')
    assert.equal((await listed('long'))?.expiry_interval, 3600)
    assert.equal((await listed('v311'))?.expiry_interval, 7200)

    // gone once its SHORT seconds since it left have passed (the sweep runs every second)
    await eventually(async () => (await listed('short')) === undefined, { timeoutMs: (SHORT + 10) * 1000, intervalMs: 200 })
    assert.ok(Date.now() - leftAt >= SHORT * 1000 - 100, 'not before its expiry')
    const short = mqtt.connect(p.mqtt, v5('short', SHORT))
    t.after(() => short.endAsync(true))
    assert.equal((await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { short.once('connect', resolve); short.once('error', reject) })).sessionPresent, false)
    const long = mqtt.connect(p.mqtt, v5('long', 3600))
    t.after(() => long.endAsync(true))
    assert.equal((await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { long.once('connect', resolve); long.once('error', reject) })).sessionPresent, true)
  })
}
