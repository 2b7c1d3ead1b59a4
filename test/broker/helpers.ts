// Vocabulary of the broker tests: a broker on free ports, real clients, polling a condition.
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import { startBroker } from '../../src/broker/broker.js'
import type { Broker, BrokerOptions } from '../../src/broker/broker.js'

export const NODE = 'emqx@127.0.0.1'

export async function start (t: TestContext, extra: Partial<BrokerOptions> = {}): Promise<Broker> {
  const b = await startBroker({ nodeName: NODE, host: '127.0.0.1', mqttPort: 0, wsPort: 0, ...extra })
  t.after(() => b.close())
  return b
}

export async function connect (t: TestContext, b: Broker, opts: IClientOptions = {}, ws = false): Promise<MqttClient> {
  const url = ws ? `ws://127.0.0.1:${b.ports.ws}/mqtt` : `mqtt://127.0.0.1:${b.ports.mqtt}`
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...opts })
  t.after(() => c.endAsync(true))
  return c
}

export async function until (cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
