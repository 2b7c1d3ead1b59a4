// Vocabulary of the broker tests: a broker on free ports and real clients (polling: test/support/wait.ts).
import type { TestContext } from 'node:test'
import type { IClientOptions, MqttClient } from 'mqtt'
import { startBroker } from '../../src/broker/broker.js'
import type { Broker, BrokerOptions } from '../../src/broker/broker.js'
import { mqttClient } from '../support/mqtt.js'

export const NODE = 'emqx@127.0.0.1'

export async function start (t: TestContext, extra: Partial<BrokerOptions> = {}): Promise<Broker> {
  const b = await startBroker({ nodeName: NODE, host: '127.0.0.1', mqttPort: 0, wsPort: 0, ...extra })
  t.after(() => b.close())
  return b
}

export async function connect (t: TestContext, b: Broker, opts: IClientOptions = {}, ws = false): Promise<MqttClient> {
  const url = ws ? `ws://127.0.0.1:${b.ports.ws}/mqtt` : `mqtt://127.0.0.1:${b.ports.mqtt}`
  return mqttClient(t, url, opts)
}
