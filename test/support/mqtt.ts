/** Real MQTT clients (mqtt.js over TCP or WebSocket) the way every test opens them: no reconnect, a 5 s CONNECT bound. */
import type { TestContext } from 'node:test'
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient, type Packet } from 'mqtt'

export const CLIENT_DEFAULTS: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000 }

/** Connected client; the caller ends it (see `mqttClient` for one ended with the test). */
export function openClient (url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { ...CLIENT_DEFAULTS, ...opts })
}

/** Connected client, ended (forcibly) when the test ends. */
export async function mqttClient (t: TestContext, url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await openClient(url, opts)
  t.after(() => c.endAsync(true).catch(() => {}))
  return c
}

/** Connects and records every payload from the first packet on, so nothing queued slips past the listener. */
export async function connectCollecting (t: TestContext, url: string, opts: IClientOptions): Promise<{ client: MqttClient, connack: IConnackPacket, received: string[] }> {
  const received: string[] = []
  const client = mqtt.connect(url, { ...CLIENT_DEFAULTS, ...opts })
  t.after(() => client.endAsync(true))
  client.on('message', (_topic, payload) => received.push(payload.toString()))
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return { client, connack, received }
}

/** The next message `c` receives, or a rejection after `timeoutMs`. */
export function nextMessage (c: MqttClient, timeoutMs = 3000): Promise<{ topic: string, payload: string, retain: boolean, qos: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { c.off('message', on); reject(new Error('no message in time')) }, timeoutMs)
    const on = (topic: string, payload: Buffer, packet: { retain: boolean, qos: number }): void => {
      clearTimeout(timer)
      c.off('message', on)
      resolve({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos })
    }
    c.on('message', on)
  })
}

/** The return codes of one SUBSCRIBE (QoS 1), read from the SUBACK itself: mqtt.js reports a 0x80 as an error. */
export async function granted (c: MqttClient, ...topics: string[]): Promise<number[]> {
  return await new Promise(resolve => {
    const on = (p: Packet): void => {
      if (p.cmd !== 'suback') return
      c.off('packetreceive', on)
      resolve(p.granted as number[])
    }
    c.on('packetreceive', on)
    c.subscribe(topics, { qos: 1 }, () => {})
  })
}
