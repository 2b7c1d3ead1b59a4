/**
 * Every place this broker reaches inside its upstream packages (aedes 1.2, mqtt-packet 9, Node's
 * streams): the internals are declared here and nowhere else, and each patch is checked when it is
 * installed, so an upgrade that renames one stops the start with one line naming the package and
 * its version instead of silently losing a guard or a counter. What each patch does is ours and
 * lives elsewhere (conn.ts: counters and write coalescing; guard.ts: parser and slow-consumer
 * guards); a patch here is only the thin call into it.
 *
 * Process-wide, installed once by the first broker to start, checked again by every later start
 * (installUpstream):
 * - mqtt-packet `writeToStream`, looked up by aedes at each write: every packet written → conn.ts
 * - mqtt-packet Parser `_parseString`, `_parseMessageId`, `_parseLength` → guard.ts
 * - aedes `Client.prototype.waitForDrain`: writes never wait (guard.ts, slow consumers). aedes'
 *   own `drainTimeout` option does not replace it: it still makes every delivery wait for the slow
 *   client's drain, for up to the timeout, and judges by time, not by bytes buffered.
 * - `net.Socket.prototype.destroy` (TCP and TLS connections) and, on our WebSocket streams only,
 *   an own `destroy`: a connection destroyed while its writes are held sends them first, and one
 *   closed with a server DISCONNECT is ended and destroyed a little later (conn.ts)
 * Per connection (tapConnection, guardClient): the parser's public 'packet' event, prepended so it
 * runs before aedes' listener; aedes' per-client `deliver0`.
 * Per broker (patchBroker): aedes' `publish`, `registerClient`, `subscribe`, `unsubscribe`, its
 * emitter's `emit` and `_matcher.match` (emit, and stamping a packet from aedes' `counter`: PUBACK
 * after storing, ack-after-store.ts), after a client made and closed at once has shown that aedes'
 * clients have the fields used here.
 * Shared subscriptions (shared.ts) deliver to one chosen client through its `deliverQoS` /
 * `deliver0`, with a packet identifier taken from its `_nextId` (aedes' QoSPacket keeps one that is
 * set), and a fresh `counter` of the broker for a message sent again to another member.
 *
 * Other users of the same modules in the process (mqtt.js in tests) pass through: only streams,
 * parsers and clients marked here are observed.
 */

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Aedes, Client } from 'aedes'
import type { WebSocket } from 'ws'
import { createWebSocketStream } from 'ws'
import { ackAfterStore, type AckAfterStore, type Stampable } from './ack-after-store.js'
import { afterWrite, beforeDestroy, beforeWrite, packetIn, type ConnState, type WirePacket } from './conn.js'
import { checkSlow, dropQoS0, oversize, validMessageId, validString, type Guards } from './guard.js'

/** An upstream internal this broker needs is missing: the start stops with this one line. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
}

const kConn = Symbol('connState')
const kGuards = Symbol('guards')

// ---- the internals, as aedes 1.2.0 and mqtt-packet 9.0.2 have them (absent from their typings)

/** mqtt-packet's module object: aedes looks `writeToStream` up on it at every write */
interface MqttPacketModule {
  writeToStream: WriteToStream
  parser: () => ParserInternals
}
type WriteToStream = ((packet: WirePacket, stream: Tapped, opts?: unknown) => boolean) & { cacheNumbers?: boolean }

/** mqtt-packet's Parser: an EventEmitter emitting 'packet'; aedes sets `client` on its own */
interface ParserInternals {
  packet: WirePacket & { length: number, messageId?: number }
  _pos: number
  _list: { slice: (start: number, end: number) => Uint8Array }
  client?: ClientInternals
  _parseString: (maybeBuffer?: boolean) => string | null
  _parseMessageId: () => boolean
  _parseLength: () => boolean
  _emitError: (err: Error) => void
  prependListener: (event: 'packet', fn: (this: ParserInternals, packet: WirePacket) => void) => unknown
  on: (event: 'packet', fn: (packet: WirePacket) => void) => unknown
  [kConn]?: ConnState
}

/** aedes' Client: `_parser` and `deliver0` are made per client in its constructor */
interface ClientInternals {
  _parser: ParserInternals
  conn: Duplex
  /** set once CONNACK was written: what arrives before it waits in aedes' queue (guard.ts bounds it) */
  connackSent?: boolean
  clean: boolean
  subscriptions: Record<string, { qos: number } | undefined>
  waitForDrain: (cb: (err: Error | null, client: unknown) => void) => void
  deliver0: (packet: unknown, cb: (err?: Error | null) => void) => void
  deliverQoS: (packet: unknown, cb: (err?: Error | null) => void) => void
  _nextId: number
  closed: boolean
  id: string
  close: (done?: () => void) => void
  [kGuards]?: Guards
}

/** the aedes instance */
interface AedesInternals {
  clients: Record<string, (Client & ClientInternals) | undefined>
  mq: { _matcher?: { match?: (topic: string, ...rest: unknown[]) => unknown[] }, emit?: (packet: Stampable, cb?: (err?: Error) => void) => unknown }
  id: string
  /** aedes-packet takes a new packet's brokerCounter from here */
  counter: number
  registerClient: (client: Client) => void
  publish: (packet: object, client: unknown, done?: (err?: Error) => void) => void
  subscribe: (topic: string, func: SubscriptionFunc, done?: (err?: Error) => void) => void
  unsubscribe: (topic: string, func: SubscriptionFunc, done?: (err?: Error) => void) => void
  handle: (conn: Duplex) => Client
}

type Tapped = object & { [kConn]?: ConnState }

// ---- the packages, and their versions for the error line

const ownRequire = createRequire(import.meta.url)
const aedesUrl = import.meta.resolve('aedes')
const aedesRequire = createRequire(aedesUrl)

function versionOf (packageJson: string): string {
  try {
    return String((JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version)
  } catch {
    return '(version unknown)'
  }
}

const AEDES = `aedes ${versionOf(fileURLToPath(new URL('./package.json', aedesUrl)))}`
const MQTT_PACKET = `mqtt-packet ${versionOf(ownRequire.resolve('mqtt-packet/package.json'))}`
const NODE = `node ${process.version}`

function missing (pkg: string, what: string): UpstreamError {
  return new UpstreamError(`${pkg}: ${what} is missing (the broker patches it in src/broker/upstream.ts); this version is not supported`)
}

// ---- process-wide patches

interface Patch {
  pkg: string
  /** how the error line names it */
  what: string
  holder: Record<string, unknown>
  name: string
  wrap: (original: unknown) => unknown
  installed?: unknown
}

function patch<F> (pkg: string, what: string, holder: object, name: string, wrap: (original: F) => F): Patch {
  return { pkg, what, holder: holder as Record<string, unknown>, name, wrap: wrap as (original: unknown) => unknown }
}

/** what installUpstream patches; once declared, one list for the process (concurrent starts share it) */
let declared: Promise<Patch[]> | null = null
let patches: Patch[] | null = null

/**
 * Installs the process-wide patches, once; every later call (each broker start) checks that they
 * are still in place. Throws an UpstreamError naming the package and version of a missing internal.
 */
export async function installUpstream (): Promise<void> {
  declared ??= declarePatches().catch((err: unknown) => { declared = null; throw err })
  patches = await declared
  // check all before changing any: a start that fails leaves the process as it was
  for (const p of patches) {
    const current = p.holder[p.name]
    if (p.installed === undefined ? typeof current !== 'function' : current !== p.installed) throw missing(p.pkg, p.what)
  }
  for (const p of patches) {
    if (p.installed !== undefined) continue
    p.installed = p.wrap(p.holder[p.name])
    p.holder[p.name] = p.installed
  }
}

async function declarePatches (): Promise<Patch[]> {
  // aedes and this server must share one mqtt-packet: aedes writes through its copy, we patch ours
  if (aedesRequire.resolve('mqtt-packet') !== ownRequire.resolve('mqtt-packet')) {
    throw new UpstreamError(`${AEDES}: resolves another copy of mqtt-packet than this server's ${MQTT_PACKET}; reinstall so there is one`)
  }
  const mqttPacket = ownRequire('mqtt-packet') as MqttPacketModule
  if (typeof mqttPacket.parser !== 'function') throw missing(MQTT_PACKET, 'parser()')
  const sample = mqttPacket.parser()
  const parserProto = Object.getPrototypeOf(sample) as Record<string, unknown>
  if (typeof sample.prependListener !== 'function') throw missing(MQTT_PACKET, 'Parser (an EventEmitter)')
  if (typeof sample._emitError !== 'function') throw missing(MQTT_PACKET, 'Parser.prototype._emitError')
  if (typeof sample._list?.slice !== 'function') throw missing(MQTT_PACKET, 'Parser#_list.slice')
  // not exported by aedes: the module its own import of './lib/client.js' loads (one module per URL)
  const clientModule = await import(new URL('./lib/client.js', aedesUrl).href).catch(() => null) as { default?: { prototype?: Record<string, unknown> } } | null
  const clientProto = clientModule?.default?.prototype
  if (clientProto === undefined) throw missing(AEDES, 'lib/client.js (its Client class)')
  return [
    patch(MQTT_PACKET, 'writeToStream', mqttPacket, 'writeToStream', tapWrites),
    patch(MQTT_PACKET, 'Parser.prototype._parseString', parserProto, '_parseString', strictString),
    patch(MQTT_PACKET, 'Parser.prototype._parseMessageId', parserProto, '_parseMessageId', strictMessageId),
    patch(MQTT_PACKET, 'Parser.prototype._parseLength', parserProto, '_parseLength', limitedLength),
    patch(AEDES, 'Client.prototype.waitForDrain', clientProto, 'waitForDrain', neverWait),
    patch(NODE, 'net.Socket.prototype.destroy', net.Socket.prototype, 'destroy', flushOnDestroy)
  ]
}

/** Every packet aedes writes: counted, and held for coalescing (conn.ts). */
function tapWrites (write: WriteToStream): WriteToStream {
  const tapped: WriteToStream = function writeToStream (packet, stream, opts) {
    const st = stream[kConn]
    if (st !== undefined) beforeWrite(st, stream as Duplex)
    const result = write(packet, stream, opts) // throws on a malformed packet: then nothing was sent
    if (st !== undefined) afterWrite(st, stream as Duplex, packet)
    return result
  }
  // mqtt.js switches number caching off through this property of the function
  Object.defineProperty(tapped, 'cacheNumbers', { get: () => write.cacheNumbers, set: (v: boolean) => { write.cacheNumbers = v } })
  return tapped
}

// the parser's checks apply to guarded clients only (aedes sets `client` on its parser)

function strictString (parseString: ParserInternals['_parseString']): ParserInternals['_parseString'] {
  return function strictString (this: ParserInternals, maybeBuffer?: boolean): string | null {
    const start = this._pos + 2
    const s = parseString.call(this, maybeBuffer)
    if (s === null || this.client?.[kGuards] === undefined) return s
    // returning null makes the caller emit its parse error, which closes the connection
    return validString(s, this._list, start, this._pos) ? s : null
  }
}

function strictMessageId (parseMessageId: ParserInternals['_parseMessageId']): ParserInternals['_parseMessageId'] {
  return function strictMessageId (this: ParserInternals): boolean {
    if (!parseMessageId.call(this)) return false
    if (validMessageId(this.packet.messageId) || this.client?.[kGuards] === undefined) return true
    this._emitError(new Error('packet identifier 0 [MQTT-2.3.1-1]'))
    return false
  }
}

function limitedLength (parseLength: ParserInternals['_parseLength']): ParserInternals['_parseLength'] {
  return function limitedLength (this: ParserInternals): boolean {
    if (!parseLength.call(this)) return false
    const client = this.client
    const guards = client?.[kGuards]
    return client === undefined || guards === undefined || !oversize(client, guards, this.packet.length, client.connackSent !== true)
  }
}

function neverWait (waitForDrain: ClientInternals['waitForDrain']): ClientInternals['waitForDrain'] {
  return function guardedWaitForDrain (this: ClientInternals, cb) {
    const guards = this[kGuards]
    if (guards === undefined) return waitForDrain.call(this, cb)
    checkSlow(this, guards)
    setImmediate(cb, null, this)
  }
}

type Destroy = (this: Duplex, err?: Error | null, cb?: unknown) => Duplex

function flushOnDestroy (destroy: Destroy): Destroy {
  return function destroyHeld (this: Duplex & Tapped, err, cb) {
    const st = this[kConn]
    // deferred: the stream is ended first and destroyed later (a server DISCONNECT, conn.ts)
    if (st !== undefined && beforeDestroy(st, this, err)) return this
    return destroy.call(this, err, cb)
  }
}

// ---- per connection

const wsDestroy = flushOnDestroy(Duplex.prototype.destroy as Destroy)

/**
 * The stream of a WebSocket connection, sending what is buffered as one binary frame (its own
 * would send every chunk as a frame: mqtt-packet writes a PUBLISH in five chunks, a CONNACK in four;
 * receivers must not assume packets align with frames, [MQTT-6.0.0-2]) and flushing held writes on
 * destroy. Both as own properties of this stream: ws sets its own `_write` and `_destroy` there too.
 */
export function webSocketStream (ws: WebSocket): Duplex {
  const stream = createWebSocketStream(ws)
  stream._writev = sendBatch
  stream.destroy = wsDestroy as Duplex['destroy']
  return stream
}

/** Through the stream's own `_write` and its handling of a socket not yet open. */
function sendBatch (this: Duplex, chunks: Array<{ chunk: Buffer | string, encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
  const data = Buffer.concat(chunks.map(c => typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk))
  this._write(data, 'buffer' as BufferEncoding, cb) // Node's own name for a Buffer chunk's encoding
}

/**
 * Feeds `state` (conn.ts) from the packets aedes parses and writes on `stream`. Right after
 * `aedes.handle`: the parser's listener goes before aedes' own.
 */
export function tapConnection (client: unknown, stream: object, state: ConnState): void {
  const parser = (client as ClientInternals)._parser
  parser[kConn] = state
  parser.prependListener('packet', parsed);
  (stream as Tapped)[kConn] = state
  // a stream that writes batches is worth holding (TCP, TLS, our WebSocket streams)
  if (stream instanceof Duplex && typeof (stream as { _writev?: unknown })._writev === 'function') state.coalesce = true
}

/** one listener function for every parser: no closure per connection */
function parsed (this: ParserInternals, packet: WirePacket): void {
  const st = this[kConn]
  if (st !== undefined) packetIn(st, packet)
}

/** Guards `client` (an aedes Client) with `guards` (guard.ts). */
export function guardClient (client: unknown, guards: Guards): void {
  const c = client as ClientInternals
  c[kGuards] = guards
  // aedes makes deliver0 per client, in its constructor: it can only be wrapped here
  const deliver0 = c.deliver0
  // (called detached, as a subscription handler: `c`, not `this`)
  c.deliver0 = function guardedDeliver0 (packet, cb) {
    if (dropQoS0(c, guards)) {
      setImmediate(cb)
      return
    }
    deliver0(packet, cb)
  }
}

// ---- per broker

export interface BrokerTaps {
  /** true: aedes' publish of this packet completes at once and routes it nowhere (refused or taken, yet acknowledged) */
  swallow: (packet: object) => boolean
  /** aedes is about to register `client`; `old` is the connection with its id that aedes closes [MQTT-3.1.4-2] */
  registering: (client: Client, old: Client) => void
  /** the local emitter found `found` subscriptions for a publish to `topic` */
  matched?: (topic: string, found: number) => void
  /** aedes subscribes `func` (a client's delivery) to `topic`; true: taken (the tap calls `done`), not put in the emitter */
  subscribe?: (topic: string, func: SubscriptionFunc, done: (err?: Error) => void) => boolean
  /** the same for aedes' unsubscribe (also run for each subscription of a closing client) */
  unsubscribe?: (topic: string, func: SubscriptionFunc, done: (err?: Error) => void) => boolean
}

/** what aedes puts in its emitter for one subscription of one client */
export type SubscriptionFunc = (packet: object, cb: (err?: Error | null) => void) => void

/**
 * Patches one aedes instance, after checking the internals it and its clients have. `ownEmitter`:
 * aedes made its own mqemitter, whose matcher must then be there for `taps.matched`; with another
 * emitter (a cluster's bus) it is used if present. Returns whether `matched` is fed.
 */
export function patchBroker (aedes: Aedes, taps: BrokerTaps, ownEmitter: boolean): { matching: boolean, ackAfterStore: AckAfterStore } {
  const a = aedes as unknown as AedesInternals
  if (typeof a.clients !== 'object' || a.clients === null) throw missing(AEDES, 'Aedes#clients')
  if (typeof a.publish !== 'function') throw missing(AEDES, 'Aedes#publish')
  if (typeof a.registerClient !== 'function') throw missing(AEDES, 'Aedes#registerClient')
  if (typeof a.subscribe !== 'function' || typeof a.unsubscribe !== 'function') throw missing(AEDES, 'Aedes#subscribe/unsubscribe')
  if (typeof a.id !== 'string' || typeof a.counter !== 'number') throw missing(AEDES, 'Aedes#id and Aedes#counter')
  if (typeof a.mq?.emit !== 'function') throw missing(AEDES, 'its emitter\'s emit (mq.emit)')
  const matcher = a.mq?._matcher
  const matching = taps.matched !== undefined && typeof matcher?.match === 'function'
  if (taps.matched !== undefined && !matching && ownEmitter) throw missing('mqemitter (aedes\' emitter)', 'Matcher#match (mq._matcher)')
  probeClient(a)

  const publish = a.publish.bind(aedes)
  // PUBACK after storing (ack-after-store.ts): a QoS 1 publish already run by the authorization is not run again
  const acks = ackAfterStore(a.id, (packet) => {
    const p = packet as Stampable
    p.brokerId = a.id
    p.brokerCounter = ++a.counter
    return a.counter
  }, publish)
  const mq = a.mq as { emit: (packet: Stampable, cb?: (err?: Error) => void) => unknown }
  const emit = mq.emit.bind(mq)
  mq.emit = (packet, cb) => {
    acks.emitted(packet)
    return emit(packet, cb)
  }
  a.publish = (packet, client, done) => {
    if (acks.take(packet, typeof client === 'function' ? client as () => void : done)) return
    if (taps.swallow(packet)) {
      const cb = typeof client === 'function' ? client as () => void : done
      if (cb !== undefined) setImmediate(cb)
      return
    }
    publish(packet, client, done)
  }

  const register = a.registerClient.bind(aedes)
  a.registerClient = (client) => {
    const old = a.clients[client.id]
    if (old !== undefined && old !== client) taps.registering(client, old)
    register(client)
  }

  const noop = (): void => {}
  const tapSubscribe = taps.subscribe
  if (tapSubscribe !== undefined) {
    const subscribe = a.subscribe.bind(aedes)
    a.subscribe = (topic, func, done) => { if (!tapSubscribe(topic, func, done ?? noop)) subscribe(topic, func, done) }
  }
  const tapUnsubscribe = taps.unsubscribe
  if (tapUnsubscribe !== undefined) {
    const unsubscribe = a.unsubscribe.bind(aedes)
    a.unsubscribe = (topic, func, done) => { if (!tapUnsubscribe(topic, func, done ?? noop)) unsubscribe(topic, func, done) }
  }

  if (matching && matcher?.match !== undefined) {
    const match = matcher.match.bind(matcher)
    const matched = taps.matched!
    matcher.match = (topic, ...rest) => {
      const found = match(topic, ...rest)
      matched(topic, found.length)
      return found
    }
  }
  return { matching, ackAfterStore: acks }
}

/** A client made and closed at once: what guardClient and tapConnection need of every client is there. */
function probeClient (a: AedesInternals): void {
  const client = a.handle(new Duplex({ read () {}, write (_chunk, _enc, cb) { cb() } })) as unknown as ClientInternals
  try {
    if (typeof client._parser?.prependListener !== 'function') throw missing(AEDES, 'Client#_parser')
    if (typeof client.deliver0 !== 'function') throw missing(AEDES, 'Client#deliver0')
    if (typeof client.subscriptions !== 'object') throw missing(AEDES, 'Client#subscriptions')
    if (typeof client.deliverQoS !== 'function') throw missing(AEDES, 'Client#deliverQoS')
    if (typeof client._nextId !== 'number') throw missing(AEDES, 'Client#_nextId')
    // the prototypes installUpstream patched are the ones aedes' clients and parsers use
    const holder = (name: string): unknown => patches?.find(p => p.name === name && p.installed !== undefined)?.holder
    const clientProto = holder('waitForDrain')
    if (clientProto !== undefined && Object.getPrototypeOf(client) !== clientProto) throw new UpstreamError(`${AEDES}: its clients are not the Client of lib/client.js, which the broker patches`)
    const parserProto = holder('_parseString')
    if (parserProto !== undefined && Object.getPrototypeOf(client._parser) !== parserProto) throw new UpstreamError(`${AEDES}: its parsers are not the Parser of ${MQTT_PACKET}, which the broker patches`)
  } finally {
    // not clean: closing touches nothing in the persistence
    client.clean = false
    client.close()
  }
}

// ---- reads of aedes internals

/** The live (not closed) aedes client with this id. */
export function liveClient (aedes: Aedes, clientId: string): (Client & ClientInternals) | undefined {
  const c = (aedes as unknown as AedesInternals).clients[clientId]
  return c !== undefined && !c.closed ? c : undefined
}

/** Every client aedes holds (closing or not). */
export function liveClients (aedes: Aedes): Array<Client & ClientInternals> {
  return Object.values((aedes as unknown as AedesInternals).clients).filter(c => c !== undefined)
}

/** Whether aedes holds a client with this id (closing or not). */
export function hasClient (aedes: Aedes, clientId: string): boolean {
  return (aedes as unknown as AedesInternals).clients[clientId] !== undefined
}

/** A client's subscriptions as aedes keeps them (a resumed session's are restored without an event). */
export function subscriptionsOf (client: Client): Array<[string, number | undefined]> {
  const subs = (client as unknown as ClientInternals).subscriptions
  return Object.keys(subs).map(t => [t, subs[t]?.qos])
}

/** aedes' publish on behalf of `client` (null: the broker), which its typings leave out. */
export function publishAs (aedes: Aedes, packet: object, client: Client | null, done: (err?: Error) => void): void {
  (aedes as unknown as AedesInternals).publish(packet, client, done)
}

// ---- shared subscriptions (shared.ts)

/** An aedes client as shared.ts sees it. */
export interface MemberClient {
  readonly id: string
  readonly closed: boolean
  readonly clean: boolean
}

/** Which of `clients` holds `func` as its subscription to `topic` (aedes sets it just before subscribing). */
export function ownerOf (clients: Iterable<unknown>, topic: string, func: SubscriptionFunc): { client: MemberClient, sub: { qos?: number } } | undefined {
  for (const c of clients) {
    const sub = (c as ClientInternals).subscriptions[topic] as { func?: unknown, qos?: number } | undefined
    if (sub?.func === func) return { client: c as MemberClient, sub }
  }
  return undefined
}

/** aedes' own delivery of `packet` to `client` at `packet.qos`; QoS 1/2 get `messageId` (see takeMessageId). */
export function deliverTo (client: MemberClient, packet: { qos: number }, cb: (err?: Error | null) => void): void {
  const c = client as unknown as ClientInternals
  if (packet.qos === 0) c.deliver0(packet, cb)
  else c.deliverQoS(packet, cb)
}

/** The next packet identifier of `client`, as aedes' QoSPacket takes it (1..65535). */
export function takeMessageId (client: MemberClient): number {
  const c = client as unknown as ClientInternals
  const id = c._nextId
  c._nextId = id >= 65535 ? 1 : id + 1
  return id
}

/** A new message number of this broker: a message sent again is not taken for a duplicate by its new receiver. */
export function freshCounter (aedes: Aedes): number {
  return ++(aedes as unknown as AedesInternals).counter
}

/** `fn` sees every packet `client` sends, after aedes handled it. */
export function onClientPacket (client: MemberClient, fn: (packet: WirePacket) => void): void {
  (client as unknown as ClientInternals)._parser.on('packet', fn)
}

/** aedes' emitter (its own mqemitter, or a cluster's bus), where a group puts its dispatcher */
export interface Emitter {
  on: (topic: string, fn: SubscriptionFunc, done: (err?: Error) => void) => void
  removeListener: (topic: string, fn: SubscriptionFunc) => void
}

export function emitterOf (aedes: Aedes): Emitter {
  return (aedes as unknown as { mq: Emitter }).mq
}
