// Nothing lost across a restart of a real server process: persistent sessions and their queued
// QoS 1 messages, retained messages, apps, users, bans, hot configs and plugin states.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { eventually } from '../support/wait.js'
import { call, processStores, startProcess, stop } from '../process.js'

for (const store of processStores('restart')) {
  test(`${store.name}: a stopped and restarted server loses nothing`, { timeout: 120000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'restart-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { ...store.env, DATA_DIR: dataDir }
    let p = await startProcess(env)
    t.after(() => { p.child.kill('SIGKILL') })

    // a persistent session subscribes with QoS 1 and leaves
    const away = await mqtt.connectAsync(p.mqtt, { clientId: 'away', clean: false, reconnectPeriod: 0 })
    await away.subscribeAsync('inbox/away', { qos: 1 })
    await away.endAsync()
    // messages for it, over MQTT and through the API, and a retained one
    const pub = await mqtt.connectAsync(p.mqtt, { clientId: 'pub', reconnectPeriod: 0 })
    await pub.publishAsync('inbox/away', 'm1', { qos: 1 })
    await pub.publishAsync('inbox/away', 'm2', { qos: 1 })
    await pub.publishAsync('state/door', 'open', { qos: 1, retain: true })
    await pub.endAsync()
    assert.deepEqual((await call(p, 'POST', '/mqtt/publish', { topic: 'inbox/away', payload: 'm3', qos: 1 })).body, { code: 0 })
    const queued = await eventually(async () => {
      const s = (await call(p, 'GET', '/sessions/away')).body[0]
      return s?.mqueue_len === 3 ? s : null
    })
    assert.equal(queued.clean_start, false)

    // admin state
    const app = await call(p, 'POST', '/apps', { app_id: 'keeper' })
    assert.equal((await call(p, 'POST', '/users', { username: 'ops', password: 'pw-ops' })).status, 200)
    assert.equal((await call(p, 'POST', '/banned', { who: 'evil', as: 'client_id' })).status, 200)
    assert.equal((await call(p, 'PUT', '/configs/emqx_retainer', { key: 'retainer.max_payload_size', value: '64' })).status, 200)
    assert.equal((await call(p, 'PUT', '/nodes/emqx@127.0.0.1/plugins/emqx_retainer/unload')).status, 200)
    assert.equal((await call(p, 'PUT', '/nodes/emqx@127.0.0.1/plugins/emqx_retainer/load')).status, 200)

    assert.equal(await stop(p), 0, 'SIGTERM stops the server cleanly')
    p = await startProcess(env)

    // the session is listed while its client is still away, with its queue
    const listed = (await call(p, 'GET', '/sessions/away')).body[0]
    assert.equal(listed?.mqueue_len, 3)
    assert.equal(listed?.subscriptions_count, 1)
    // it resumes and receives every message once, in order
    const back = await mqtt.connectAsync(p.mqtt, { clientId: 'away', clean: false, reconnectPeriod: 0 })
    const got: string[] = []
    back.on('message', (_t, payload) => got.push(payload.toString()))
    await eventually(() => got.length >= 3, 5000)
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(got, ['m1', 'm2', 'm3'])
    await back.endAsync()

    const fresh = await mqtt.connectAsync(p.mqtt, { clientId: 'fresh', reconnectPeriod: 0 })
    const retained = new Promise<string>(resolve => fresh.once('message', (_t, payload) => resolve(payload.toString())))
    await fresh.subscribeAsync('state/door')
    assert.equal(await retained, 'open')
    await fresh.endAsync()

    assert.equal((await call(p, 'GET', '/brokers', undefined, `keeper:${app.body.secret as string}`)).status, 200)
    assert.equal((await call(p, 'POST', '/auth', { username: 'ops', password: 'pw-ops' }, 'x:y')).status, 200)
    assert.deepEqual((await call(p, 'GET', '/banned')).body.items.map((b: any) => b.who), ['evil'])
    await assert.rejects(mqtt.connectAsync(p.mqtt, { clientId: 'evil', reconnectPeriod: 0 }), /authorized/i)
    const cfg = (await call(p, 'GET', '/configs')).body[0].config.find((c: any) => c.key === 'retainer.max_payload_size')
    assert.equal(cfg.value, '64')
    assert.equal((await call(p, 'GET', '/nodes/emqx@127.0.0.1/plugins')).body.find((x: any) => x.name === 'emqx_retainer').active, true)
    assert.equal(await stop(p), 0)
  })
}
