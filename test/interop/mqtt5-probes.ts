/**
 * MQTT 5 probes with mqtt.js (`protocolVersion: 5`): one short check per feature of issue 16, each
 * printing `yes`, `NO` or `n/a` with what was seen. A measurement for the aedes 2 spike (docs/mqtt5.md),
 * not a test suite: the end-to-end tests of each feature come with the feature.
 *
 *   node --import tsx test/interop/mqtt5-probes.ts [--broker ours|aedes-memory|mosquitto] [--url host:port]
 *
 * With `--broker ours` (the default) the API-side probes (proto_ver, kickout, ban) run too.
 */
import net from 'node:net'
import { parseArgs } from 'node:util'
import * as mqttPacket from 'mqtt-packet'
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket, type IConnackPacket, type IDisconnectPacket } from 'mqtt'
import { LABELS, startSystem, type System, type SystemName } from '../../bench/systems.js'
import { freePort } from '../support/ports.js'

interface Ctx { url: string, wsUrl: string | null, api: string | null }
type Verdict = { ok: boolean | null, seen: string }
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
let seq = 0
const uid = (s: string): string => `p5-${s}-${process.pid}-${++seq}`

async function connect (ctx: Ctx, opts: IClientOptions = {}, url = ctx.url): Promise<{ c: MqttClient, connack: IConnackPacket }> {
  const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    c.once('connect', resolve)
    c.once('error', reject)
    c.once('close', () => reject(new Error('closed before CONNACK')))
  })
  c.on('error', () => {})
  return { c, connack }
}

function collect (c: MqttClient): IPublishPacket[] {
  const got: IPublishPacket[] = []
  c.on('message', (_t, _p, packet) => got.push(packet))
  return got
}

async function api (ctx: Ctx, method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> {
  const headers: Record<string, string> = { authorization: 'Basic ' + Buffer.from('admin:public').toString('base64') }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${ctx.api}${path}`, body === undefined ? { method, headers } : { method, headers, body: JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

function nextDisconnect (c: MqttClient, ms = 3000): Promise<IDisconnectPacket | 'closed' | 'nothing'> {
  return new Promise(resolve => {
    const t = setTimeout(() => resolve('nothing'), ms)
    c.once('disconnect', p => { clearTimeout(t); resolve(p) })
    c.once('close', () => { setTimeout(() => { clearTimeout(t); resolve('closed') }, 50) })
  })
}

const end = (...cs: MqttClient[]): Promise<void> => Promise.all(cs.map(c => c.endAsync(true).catch(() => {}))).then(() => {})

async function offlineQueue (ctx: Ctx, returnExpiry: number): Promise<Verdict> {
  const id = uid('q')
  const a = await connect(ctx, { clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } })
  await a.c.subscribeAsync('p5/q', { qos: 1 })
  await end(a.c)
  const pub = await connect(ctx, { clientId: uid('qp') })
  await pub.c.publishAsync('p5/q', 'kept', { qos: 1 })
  await end(pub.c)
  const b = await connect(ctx, { clientId: id, clean: false, properties: { sessionExpiryInterval: returnExpiry } })
  const got = collect(b.c)
  await sleep(600)
  await end(b.c)
  return { ok: got.length === 1, seen: `${got.length} delivered on return, sessionPresent ${b.connack.sessionPresent}` }
}

const probes: Array<[string, (ctx: Ctx) => Promise<Verdict>]> = [
  ['v5 CONNECT accepted (TCP)', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: uid('c') })
    await end(c)
    return { ok: connack.reasonCode === 0, seen: `reasonCode ${connack.reasonCode}, properties ${JSON.stringify(connack.properties ?? {})}` }
  }],
  ['v5 CONNECT accepted (WebSocket)', async (ctx) => {
    if (ctx.wsUrl === null) return { ok: null, seen: 'no WebSocket listener' }
    const { c, connack } = await connect(ctx, { clientId: uid('ws') }, ctx.wsUrl)
    await end(c)
    return { ok: connack.reasonCode === 0, seen: `reasonCode ${connack.reasonCode}` }
  }],
  ['3.1.1 client still served', async (ctx) => {
    const { c } = await connect(ctx, { protocolVersion: 4, clientId: uid('v4') })
    const got = collect(c)
    await c.subscribeAsync('p5/v4', { qos: 1 })
    await c.publishAsync('p5/v4', 'x', { qos: 1 })
    await sleep(300)
    await end(c)
    return { ok: got.length === 1, seen: `${got.length} delivered` }
  }],
  ['API: proto_ver 5 of a v5 connection', async (ctx) => {
    if (ctx.api === null) return { ok: null, seen: 'no API' }
    const id = uid('api')
    const { c } = await connect(ctx, { clientId: id })
    await sleep(200)
    const r = await api(ctx, 'GET', `/connections/${id}`)
    await end(c)
    const m = /"proto_ver":(\d+)/.exec(JSON.stringify(r.body))
    return { ok: m?.[1] === '5', seen: `proto_ver ${m?.[1] ?? 'absent'}` }
  }],
  ['user properties, content type, payload format, response topic, correlation data forwarded', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('props') })
    const got = collect(c)
    await c.subscribeAsync('p5/props', { qos: 1 })
    const properties = { userProperties: { a: '1' }, contentType: 'text/plain', payloadFormatIndicator: true, responseTopic: 'p5/reply', correlationData: Buffer.from('cd') }
    await c.publishAsync('p5/props', 'x', { qos: 1, properties })
    await sleep(300)
    await end(c)
    const p = got[0]?.properties ?? {}
    const ok = JSON.stringify(p.userProperties) === '{"a":"1"}' && p.contentType === 'text/plain' && p.payloadFormatIndicator === true && p.responseTopic === 'p5/reply' && Buffer.from(p.correlationData ?? '').toString() === 'cd'
    return { ok, seen: JSON.stringify(p) }
  }],
  ['response information on request', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: uid('ri'), properties: { requestResponseInformation: true } })
    await end(c)
    const ri = connack.properties?.responseInformation
    return { ok: typeof ri === 'string' && ri !== '', seen: `responseInformation ${ri ?? 'absent'}` }
  }],
  ['assigned client identifier', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: '', clean: true })
    await end(c)
    const a = connack.properties?.assignedClientIdentifier
    return { ok: typeof a === 'string' && a !== '', seen: `assignedClientIdentifier ${a ?? 'absent'}` }
  }],
  ['session expiry interval: a session of 1 s is gone after 2 s', async (ctx) => {
    const id = uid('sei')
    const a = await connect(ctx, { clientId: id, clean: true, properties: { sessionExpiryInterval: 1 } })
    await a.c.subscribeAsync('p5/sei', { qos: 1 })
    await end(a.c)
    const b = await connect(ctx, { clientId: id, clean: false, properties: { sessionExpiryInterval: 1 } })
    await end(b.c)
    await sleep(2200)
    const d = await connect(ctx, { clientId: id, clean: false })
    await end(d.c)
    return { ok: b.connack.sessionPresent && !d.connack.sessionPresent, seen: `sessionPresent at once ${b.connack.sessionPresent}, after 2.2 s ${d.connack.sessionPresent}` }
  }],
  ['session expiry 0 (v5 default): session ends with the connection', async (ctx) => {
    const id = uid('sei0')
    const a = await connect(ctx, { clientId: id, clean: false })
    await a.c.subscribeAsync('p5/sei0', { qos: 1 })
    await end(a.c)
    await sleep(200)
    const b = await connect(ctx, { clientId: id, clean: false })
    await end(b.c)
    return { ok: !b.connack.sessionPresent, seen: `sessionPresent ${b.connack.sessionPresent}` }
  }],
  ['offline queue: QoS 1 kept for a session with expiry 60 s (returns with 60 s)', (ctx) => offlineQueue(ctx, 60)],
  ['offline queue: ... and when it returns with expiry 0 (Clean Start 0 resumes the session)', (ctx) => offlineQueue(ctx, 0)],
  ['message expiry: queued message of 1 s dropped after 2 s; remaining interval sent', async (ctx) => {
    const id = uid('mei')
    const a = await connect(ctx, { clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } })
    await a.c.subscribeAsync('p5/mei/+', { qos: 1 })
    await end(a.c)
    const pub = await connect(ctx, { clientId: uid('meip') })
    await pub.c.publishAsync('p5/mei/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } })
    await pub.c.publishAsync('p5/mei/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } })
    await end(pub.c)
    await sleep(2200)
    const b = await connect(ctx, { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } })
    const got = collect(b.c)
    await sleep(600)
    await end(b.c)
    const long = got.find(p => p.topic === 'p5/mei/long')
    const short = got.find(p => p.topic === 'p5/mei/short')
    const left = long?.properties?.messageExpiryInterval
    return { ok: short === undefined && long !== undefined && left !== undefined && left < 100, seen: `short ${short === undefined ? 'dropped' : 'delivered'}, long ${long === undefined ? 'missing' : `delivered with interval ${left ?? 'absent'}`}` }
  }],
  ['will message on a dropped connection', async (ctx) => {
    const sub = await connect(ctx, { clientId: uid('ws') })
    const got = collect(sub.c)
    await sub.c.subscribeAsync('p5/will', { qos: 1 })
    const w = await connect(ctx, { clientId: uid('w'), will: { topic: 'p5/will', payload: Buffer.from('gone'), qos: 1, retain: false } })
    w.c.stream.destroy()
    await sleep(800)
    await end(sub.c, w.c)
    return { ok: got.length === 1, seen: `${got.length} will delivered` }
  }],
  ['will delay interval 2 s', async (ctx) => {
    const sub = await connect(ctx, { clientId: uid('wds') })
    const got: number[] = []
    sub.c.on('message', () => got.push(Date.now()))
    await sub.c.subscribeAsync('p5/willd', { qos: 1 })
    const w = await connect(ctx, { clientId: uid('wd'), properties: { sessionExpiryInterval: 10 }, will: { topic: 'p5/willd', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 2 } } })
    const t0 = Date.now()
    w.c.stream.destroy()
    await sleep(3000)
    await end(sub.c, w.c)
    const after = got[0] === undefined ? null : (got[0] - t0) / 1000
    return { ok: after !== null && after >= 1.8, seen: after === null ? 'no will' : `will after ${after.toFixed(1)} s` }
  }],
  ['subscription identifier', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('sid') })
    const got = collect(c)
    await c.subscribeAsync('p5/sid', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    await c.publishAsync('p5/sid', 'x', { qos: 1 })
    await sleep(300)
    await end(c)
    const s = got[0]?.properties?.subscriptionIdentifier
    return { ok: JSON.stringify(s) === '7' || JSON.stringify(s) === '[7]', seen: `subscriptionIdentifier ${JSON.stringify(s) ?? 'absent'} (${got.length} delivered)` }
  }],
  ['no local', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('nl') })
    const got = collect(c)
    await c.subscribeAsync('p5/nl', { qos: 1, nl: true })
    await c.publishAsync('p5/nl', 'x', { qos: 1 })
    await sleep(300)
    await end(c)
    return { ok: got.length === 0, seen: `${got.length} own messages delivered` }
  }],
  ['retain as published', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('rap') })
    const got = collect(c)
    await c.subscribeAsync('p5/rap', { qos: 1, rap: true })
    await c.publishAsync('p5/rap', 'x', { qos: 1, retain: true })
    await sleep(300)
    await c.publishAsync('p5/rap', '', { qos: 1, retain: true })
    await end(c)
    return { ok: got[0]?.retain === true, seen: `retain flag ${got[0]?.retain ?? 'nothing delivered'}` }
  }],
  ['retain handling 2 (no retained on subscribe) and 1 (only on a new subscription)', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('rh') })
    await c.publishAsync('p5/rh', 'kept', { qos: 1, retain: true })
    const got = collect(c)
    await c.subscribeAsync('p5/rh', { qos: 1, rh: 2 })
    await sleep(300)
    const rh2 = got.length
    await c.unsubscribeAsync('p5/rh')
    await c.subscribeAsync('p5/rh', { qos: 1, rh: 1 })
    await sleep(300)
    const rh1new = got.length - rh2
    await c.subscribeAsync('p5/rh', { qos: 1, rh: 1 })
    await sleep(300)
    const rh1again = got.length - rh2 - rh1new
    await c.publishAsync('p5/rh', '', { qos: 1, retain: true })
    await end(c)
    return { ok: rh2 === 0 && rh1new === 1 && rh1again === 0, seen: `rh 2: ${rh2}, rh 1 new: ${rh1new}, rh 1 existing: ${rh1again}` }
  }],
  ['shared subscription: one of two members gets each message', async (ctx) => {
    const a = await connect(ctx, { clientId: uid('sa') })
    const b = await connect(ctx, { clientId: uid('sb') })
    const ga = collect(a.c); const gb = collect(b.c)
    const sa = await a.c.subscribeAsync('$share/g/p5/share', { qos: 1 })
    await b.c.subscribeAsync('$share/g/p5/share', { qos: 1 })
    for (let i = 0; i < 4; i++) await a.c.publishAsync('p5/share', String(i), { qos: 1 })
    await sleep(500)
    await end(a.c, b.c)
    return { ok: ga.length + gb.length === 4, seen: `SUBACK ${sa[0]?.qos}, delivered ${ga.length} + ${gb.length} of 4` }
  }],
  ['topic alias client -> server', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: uid('ta') })
    const max = connack.properties?.topicAliasMaximum ?? 0
    if (max === 0) { await end(c); return { ok: false, seen: 'CONNACK Topic Alias Maximum absent (0: aliases refused)' } }
    const got = collect(c)
    await c.subscribeAsync('p5/ta', { qos: 1 })
    await c.publishAsync('p5/ta', 'a', { qos: 1, properties: { topicAlias: 1 } })
    await c.publishAsync('', 'b', { qos: 1, properties: { topicAlias: 1 } })
    await sleep(300)
    await end(c)
    return { ok: got.length === 2, seen: `Topic Alias Maximum ${max}, ${got.length} of 2 delivered` }
  }],
  ['topic alias server -> client', async (ctx) => {
    const raw: Array<{ topic: string, alias: number | undefined }> = []
    const { c } = await connect(ctx, { clientId: uid('tas'), properties: { topicAliasMaximum: 5 } })
    c.on('packetreceive', (p) => { if (p.cmd === 'publish') raw.push({ topic: p.topic, alias: p.properties?.topicAlias }) })
    await c.subscribeAsync('p5/tas', { qos: 1 })
    for (let i = 0; i < 3; i++) await c.publishAsync('p5/tas', String(i), { qos: 1 })
    await sleep(300)
    await end(c)
    return { ok: raw.some(r => r.alias !== undefined), seen: JSON.stringify(raw) }
  }],
  ['Receive Maximum towards the client (2): at most 2 unacknowledged', async (ctx) => {
    // a raw socket: mqtt.js handles one incoming packet at a time, so holding its acks would hold its reading too
    const u = new URL(ctx.url)
    const sock = net.connect(Number(u.port), u.hostname)
    const parser = mqttPacket.parser({ protocolVersion: 5 })
    let publishes = 0; let suback = false
    parser.on('packet', (p) => { if (p.cmd === 'publish') publishes++; if (p.cmd === 'suback') suback = true })
    sock.on('data', (d) => parser.parse(d))
    sock.on('error', () => {})
    await new Promise(resolve => sock.once('connect', resolve))
    const w = (p: object): void => { sock.write(mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 5 })) }
    w({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: uid('rm'), keepalive: 60, properties: { receiveMaximum: 2 } })
    w({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p5/rm', qos: 1 }] })
    for (let i = 0; i < 20; i++) { if (suback) break; await sleep(50) }
    const pub = await connect(ctx, { clientId: uid('rmp') })
    for (let i = 0; i < 6; i++) await pub.c.publishAsync('p5/rm', String(i), { qos: 1 })
    await sleep(600)
    sock.destroy()
    await end(pub.c)
    return { ok: suback && publishes === 2, seen: `${publishes} of 6 sent before any PUBACK` }
  }],
  ['Receive Maximum from the client: CONNACK advertises one', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: uid('rms') })
    await end(c)
    const rm = connack.properties?.receiveMaximum
    return { ok: rm !== undefined && rm < 65535, seen: `receiveMaximum ${rm ?? 'absent (65535)'}` }
  }],
  ['Maximum Packet Size towards the client (200 B): a larger message is not sent', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('mps'), properties: { maximumPacketSize: 200 } })
    let tooBig = 0; let small = 0
    c.on('packetreceive', (p) => { if (p.cmd === 'publish') { if ((p.payload as Buffer).length > 150) tooBig++; else small++ } })
    let closed = false
    c.on('close', () => { closed = true })
    await c.subscribeAsync('p5/mps', { qos: 1 })
    const pub = await connect(ctx, { clientId: uid('mpsp') })
    await pub.c.publishAsync('p5/mps', Buffer.alloc(1000, 1), { qos: 1 })
    await pub.c.publishAsync('p5/mps', 'small', { qos: 1 })
    await sleep(500)
    // read before end(), which closes it
    const open = !closed
    await end(c, pub.c)
    return { ok: tooBig === 0 && small === 1 && open, seen: `oversized sent ${tooBig}, small sent ${small}, subscriber ${open ? 'connected' : 'closed'}` }
  }],
  ['server keep alive (client asks 0xFFFF s)', async (ctx) => {
    const { c, connack } = await connect(ctx, { clientId: uid('ska'), keepalive: 65535 })
    await end(c)
    const ska = connack.properties?.serverKeepAlive
    return { ok: ska !== undefined, seen: `serverKeepAlive ${ska ?? 'absent'}` }
  }],
  ['reason codes: PUBACK 0x10 with no subscriber, UNSUBACK 0x11 for no subscription', async (ctx) => {
    const { c } = await connect(ctx, { clientId: uid('rc') })
    let puback: number | undefined; let unsuback: unknown
    c.on('packetreceive', (p) => {
      if (p.cmd === 'puback') puback = p.reasonCode
      // mqtt-packet names UNSUBACK's reason codes `granted`, as SUBACK's
      if (p.cmd === 'unsuback') unsuback = (p as { granted?: unknown }).granted
    })
    await c.publishAsync('p5/rc/nobody', 'x', { qos: 1 }).catch(() => {})
    await c.unsubscribeAsync('p5/rc/never').catch(() => {})
    await sleep(200)
    await end(c)
    return { ok: puback === 0x10 && JSON.stringify(unsuback) === '[17]', seen: `PUBACK ${puback}, UNSUBACK ${JSON.stringify(unsuback)}` }
  }],
  ['server DISCONNECT 0x8E on takeover', async (ctx) => {
    const id = uid('to')
    const a = await connect(ctx, { clientId: id })
    const d = nextDisconnect(a.c)
    const b = await connect(ctx, { clientId: id })
    const got = await d
    await end(a.c, b.c)
    return { ok: typeof got === 'object' && got.reasonCode === 0x8e, seen: typeof got === 'object' ? `DISCONNECT 0x${got.reasonCode?.toString(16)}` : got }
  }],
  ['server DISCONNECT 0x98 on API kickout', async (ctx) => {
    if (ctx.api === null) return { ok: null, seen: 'no API' }
    const id = uid('kick')
    const a = await connect(ctx, { clientId: id })
    await sleep(200)
    const d = nextDisconnect(a.c)
    const r = await api(ctx, 'DELETE', `/connections/${id}`)
    const got = await d
    await end(a.c)
    return { ok: typeof got === 'object' && got.reasonCode === 0x98, seen: `API ${r.status}, ${typeof got === 'object' ? `DISCONNECT 0x${got.reasonCode?.toString(16)}` : got}` }
  }],
  ['server DISCONNECT 0x8A on a ban', async (ctx) => {
    if (ctx.api === null) return { ok: null, seen: 'no API' }
    const id = uid('ban')
    const a = await connect(ctx, { clientId: id })
    await sleep(200)
    const d = nextDisconnect(a.c)
    const r = await api(ctx, 'POST', '/banned/', { who: id, as: 'client_id', reason: 'probe' })
    const got = await d
    await api(ctx, 'DELETE', `/banned/${id}?as=client_id`)
    await end(a.c)
    return { ok: typeof got === 'object' && got.reasonCode === 0x8a, seen: `API ${r.status}, ${typeof got === 'object' ? `DISCONNECT 0x${got.reasonCode?.toString(16)}` : got}` }
  }]
]

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { broker: { type: 'string', default: 'ours' }, url: { type: 'string' } } })
  let system: System | null = null
  let ctx: Ctx
  if (values.url !== undefined) {
    ctx = { url: `mqtt://${values.url}`, wsUrl: null, api: null }
  } else {
    const name = values.broker as SystemName
    if (!(name in LABELS)) throw new Error(`--broker ${values.broker}`)
    const ws = await freePort()
    // our node with the optional v5 answers configured (both are off by default): Response Information, Server Keep Alive
    system = await startSystem(name, { argv: ['--import', 'tsx', 'src/main.ts'], how: 'tsx' }, { env: { MQTT_WS_PORT: String(ws), MQTT_RESPONSE_INFORMATION: 'reply/%c' } })
    ctx = { url: `mqtt://127.0.0.1:${system.mqttPort}`, wsUrl: system.api === null ? null : `ws://127.0.0.1:${ws}/mqtt`, api: system.api }
    if (system.api !== null) {
      const set = await api(ctx, 'PUT', '/configs/emqx', { key: 'mqtt.server_keepalive', value: '60' })
      if (set.status !== 200) throw new Error(`mqtt.server_keepalive: ${set.status}`)
    }
  }
  console.log(`MQTT 5 probes against ${values.url ?? LABELS[values.broker as SystemName]}`)
  let yes = 0; let no = 0
  try {
    for (const [name, probe] of probes) {
      let v: Verdict
      try {
        v = await Promise.race([probe(ctx), sleep(15000).then(() => ({ ok: false, seen: 'timed out' }))])
      } catch (err) {
        v = { ok: false, seen: `error: ${err instanceof Error ? err.message : String(err)}` }
      }
      if (v.ok === true) yes++
      if (v.ok === false) no++
      console.log(`${v.ok === null ? 'n/a' : v.ok ? 'yes' : 'NO '} | ${name} | ${v.seen}`)
    }
  } finally {
    await system?.stop()
  }
  console.log(`${yes} yes, ${no} no`)
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(2) })
