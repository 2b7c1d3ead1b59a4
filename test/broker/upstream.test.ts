// The upstream internals the broker patches are checked when a broker starts: one that is missing
// (renamed by an upgrade, say) stops the start at once with one line naming the package and version.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import { connectPacket, subscribePacket } from '../support/frames.js'
import { until } from '../support/wait.js'
import { startBroker } from '../../src/broker/broker.js'
import { UpstreamError } from '../../src/broker/upstream.js'
import { NODE, start } from './helpers.js'

const aedesUrl = import.meta.resolve('aedes')
const version = (url: URL): string => (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
const AEDES_VERSION = version(new URL('./package.json', aedesUrl))
const mqttPacketRequire = createRequire(import.meta.url)
const MQTT_PACKET_VERSION = version(new URL(`file://${mqttPacketRequire.resolve('mqtt-packet/package.json')}`))
// the Client class aedes uses (not exported: loaded from the same file its own import loads)
const { default: AedesClient } = await import(new URL('./lib/client.js', aedesUrl).href) as { default: { prototype: object } }
const Parser = Object.getPrototypeOf((mqttPacketRequire('mqtt-packet') as { parser: () => object }).parser()) as object

/** Deletes `name` from `holder` for the rest of the test, restoring it after. */
function remove (t: TestContext, holder: object, name: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(holder, name)
  assert.ok(descriptor !== undefined, `${name} is there to remove`)
  delete (holder as Record<string, unknown>)[name]
  t.after(() => { Object.defineProperty(holder, name, descriptor) })
}

const startOnFreePorts = async (): Promise<unknown> => await startBroker({ nodeName: NODE, host: '127.0.0.1', mqttPort: 0, wsPort: 0 })

/** The start fails with an UpstreamError of one line that begins with `line`. */
async function failsWith (line: string): Promise<void> {
  await assert.rejects(startOnFreePorts(), (err: unknown) => {
    assert.ok(err instanceof UpstreamError, String(err))
    assert.ok(err.message.startsWith(line), err.message)
    assert.ok(!err.message.includes('\n'), 'one line')
    return true
  })
}

test('without aedes\' Client.prototype.waitForDrain the start stops with one line naming aedes and its version', async (t) => {
  remove(t, AedesClient.prototype, 'waitForDrain')
  await failsWith(`aedes ${AEDES_VERSION}: Client.prototype.waitForDrain is missing`)
})

test('without mqtt-packet\'s Parser.prototype._parseLength the start stops with one line naming mqtt-packet and its version', async (t) => {
  remove(t, Parser, '_parseLength')
  await failsWith(`mqtt-packet ${MQTT_PACKET_VERSION}: Parser.prototype._parseLength is missing`)
})

test('with every internal back in place a broker starts and serves', async (t) => {
  const b = await start(t)
  assert.ok(b.ports.mqtt > 0)
})

test('a client\'s parser keeps its bytes in a plain list, not a stream, and still parses packets split across reads and several in one', async (t) => {
  const b = await start(t)
  const sock = net.connect(b.ports.mqtt, '127.0.0.1')
  t.after(() => { sock.destroy() })
  await once(sock, 'connect')
  const got: Buffer[] = []
  sock.on('data', (d: Buffer) => got.push(d))
  // CONNECT one byte per read, then SUBSCRIBE and PINGREQ in one write
  for (const byte of connectPacket('split', true)) {
    sock.write(Buffer.from([byte]))
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  await until(() => Buffer.concat(got).length >= 4, 'CONNACK')
  const client = (b.aedes as unknown as { clients: Record<string, { _parser: { _list: object } }> }).clients.split
  assert.ok(client !== undefined)
  assert.equal('_readableState' in client._parser._list, false, 'not a stream')
  sock.write(Buffer.concat([subscribePacket(1, ['s/#'], 1), Buffer.from([0xc0, 0])]))
  // CONNACK 20 02 00 00, then SUBACK 90 03 00 01 01 and PINGRESP d0 00 (the SUBACK waits for the store: either order)
  await until(() => Buffer.concat(got).length >= 11, 'SUBACK and PINGRESP')
  const all = Buffer.concat(got).toString('hex')
  assert.ok(['200200009003000101d000', '20020000d00090030001 01'.replace(' ', '')].includes(all), all)
})
