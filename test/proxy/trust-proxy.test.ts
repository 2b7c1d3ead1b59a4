// TRUST_PROXY and MQTT over WebSocket: X-Forwarded-For is ignored when off, and when on only the entry
// appended by the one trusted proxy counts (entries left of it come from the client and can be forged).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { wsPeer } from '../../src/broker/listeners.js'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

async function connection (n: TestNode, clientId: string): Promise<{ ipaddress: string, port: number }> {
  return await eventually(async () => {
    const r = await n.api('GET', '/connections')
    return (r.body.items as Array<{ client_id: string, ipaddress: string, port: number }>).find(c => c.client_id === clientId)
  })
}

test('TRUST_PROXY off: a forged X-Forwarded-For changes nothing', async (t) => {
  const n = await startTestNode(t)
  await n.client({ ws: true, clientId: 'forger', wsOptions: { headers: { 'x-forwarded-for': '203.0.113.9' } } })
  const c = await connection(n, 'forger')
  assert.equal(c.ipaddress, '127.0.0.1')
  assert.ok(c.port > 0)
})

test('TRUST_PROXY on: the address the proxy appended shows', async (t) => {
  const n = await startTestNode(t, { TRUST_PROXY: 'true' })
  // as a proxy that appends would send it: what the client claimed, then what the proxy saw
  await n.client({ ws: true, clientId: 'behind-proxy', wsOptions: { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } } })
  const c = await connection(n, 'behind-proxy')
  assert.equal(c.ipaddress, '203.0.113.9')
  assert.equal(c.port, 0)
  // the plain TCP listener has no headers: its peers are unchanged
  await n.client({ clientId: 'tcp' })
  assert.equal((await connection(n, 'tcp')).ipaddress, '127.0.0.1')
})

test('wsPeer: the rule', () => {
  const req = (xff?: string | string[]): IncomingMessage =>
    ({ socket: { remoteAddress: '::ffff:10.1.2.3', remotePort: 4567 }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage
  const sock = { ip: '10.1.2.3', port: 4567 }
  assert.deepEqual(wsPeer(req('203.0.113.9'), false), sock)
  assert.deepEqual(wsPeer(req(), true), sock)
  assert.deepEqual(wsPeer(req('203.0.113.9'), true), { ip: '203.0.113.9', port: 0 })
  assert.deepEqual(wsPeer(req('1.1.1.1, 203.0.113.9 '), true), { ip: '203.0.113.9', port: 0 })
  assert.deepEqual(wsPeer(req(['1.1.1.1', '2001:db8::1']), true), { ip: '2001:db8::1', port: 0 })
  assert.deepEqual(wsPeer(req('::ffff:192.0.2.1'), true), { ip: '192.0.2.1', port: 0 })
  // garbage from a misconfigured proxy: keep the socket's address rather than invent one
  assert.deepEqual(wsPeer(req('1.1.1.1, unknown'), true), sock)
  assert.deepEqual(wsPeer(req(' , '), true), sock)
})
