// emqx_web_hook against a local node:http receiver: events in order, and a failing endpoint.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

interface Receiver { url: string, events: any[], mode: 'ok' | 'fail' | 'hang' }

async function receiver (t: TestContext): Promise<Receiver> {
  const r: Receiver = { url: '', events: [], mode: 'ok' }
  const hanging: ServerResponse[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      if (r.mode === 'hang') { hanging.push(res); return }
      if (r.mode === 'ok') r.events.push(JSON.parse(body))
      res.writeHead(r.mode === 'ok' ? 200 : 500).end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  t.after(() => { server.closeAllConnections(); server.close() })
  return r
}

async function enableHook (n: TestNode, url: string): Promise<void> {
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_web_hook`, { body: { 'web.hook.api.url': url } })).body, 'ok')
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_web_hook/load`)).body, 'ok')
}

const alarmIds = async (n: TestNode): Promise<string[]> => (await n.api('GET', `/alarms/${n.nodeName}`)).body.map((a: any) => a.id)

test('web hook: connected → subscribe → publish → delivered → acked → disconnected arrive in order for a real client', async (t) => {
  const r = await receiver(t)
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_web_hook`, { body: { 'web.hook.api.url': 'ftp://x' } })).status, 400)
  await enableHook(n, r.url)
  // clean=false: aedes keeps the in-flight message only for a persistent session, and reports it when acked
  const c = await n.client({ clientId: 'wh-1', username: 'u1', clean: false })
  await c.subscribeAsync('w/1', { qos: 1 })
  const got = new Promise(resolve => c.once('message', resolve))
  await c.publishAsync('w/1', 'hello', { qos: 1 })
  await got
  const mine = (): any[] => r.events.filter(e => e.client_id === 'wh-1' || e.from_client_id === 'wh-1')
  // the ack is known to the broker once its persistence has cleared the message (async on MongoDB)
  await eventually(() => mine().some(e => e.action === 'message_acked'))
  await c.endAsync()
  await eventually(() => mine().some(e => e.action === 'client_disconnected'))
  assert.deepEqual(mine().map(e => e.action), ['client_connected', 'client_subscribe', 'message_publish', 'message_delivered', 'message_acked', 'client_disconnected'])
  const [conn, sub, pub] = mine()
  assert.deepEqual([conn.username, conn.node], ['u1', n.nodeName])
  assert.deepEqual([sub.topic, sub.opts], ['w/1', { qos: 1 }])
  assert.deepEqual([pub.topic, pub.payload, pub.qos, pub.from_username], ['w/1', 'hello', 1, 'u1'])
  assert.equal(typeof pub.ts, 'number')
})

test('web hook: an endpoint answering 500 raises web_hook_failing while QoS 0 keeps flowing; a 200 clears it', async (t) => {
  const r = await receiver(t)
  r.mode = 'fail'
  const n = await startTestNode(t, {}, { node: { webHook: { backoffMs: 10, maxBackoffMs: 50, alarmAfter: 3 } } })
  await enableHook(n, r.url)
  const c = await n.client({ clientId: 'wh-2' })
  await c.subscribeAsync('q/0')
  await eventually(async () => (await alarmIds(n)).includes('web_hook_failing'))
  for (let i = 0; i < 3; i++) {
    const got = new Promise(resolve => c.once('message', resolve))
    await c.publishAsync('q/0', String(i), { qos: 0 })
    await got
  }
  r.mode = 'ok'
  await c.publishAsync('q/0', 'again', { qos: 0 }) // a fresh event to send
  await eventually(async () => !(await alarmIds(n)).includes('web_hook_failing'))
})

test('web hook: an endpoint that never answers times out, raises the alarm and never blocks delivery', async (t) => {
  const r = await receiver(t)
  r.mode = 'hang'
  const n = await startTestNode(t, {}, { node: { webHook: { timeoutMs: 100, backoffMs: 10, maxBackoffMs: 20, alarmAfter: 2 } } })
  await enableHook(n, r.url)
  const c = await n.client({ clientId: 'wh-3' })
  await c.subscribeAsync('q/0')
  const got = new Promise(resolve => c.once('message', resolve))
  await c.publishAsync('q/0', 'x', { qos: 0 })
  await got
  await eventually(async () => (await alarmIds(n)).includes('web_hook_failing'))
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugins/emqx_web_hook/unload`)).body, 'ok')
  assert.ok(!(await alarmIds(n)).includes('web_hook_failing'), 'unloading clears it')
})
