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
 * runs before aedes' listener (counters; a SUBSCRIBE's malformed shared filters marked refused,
 * shared-topics.ts); aedes' per-client `deliver0`; the parser's byte list (`_list`, bl's
 * BufferListStream, a Duplex it never uses as a stream) swapped for bl's plain BufferList before the
 * first read, about 1 KB less per idle connection (memory per connection, issue 20).
 * Our state rides on the stream aedes is handed (a symbol property: connStateOf), not in a table.
 * Per broker (patchBroker): aedes' `publish`, `registerClient`, `subscribe`, `unsubscribe`, its
 * emitter's `emit` and `_matcher.match` (emit, and stamping a packet from aedes' `counter`: PUBACK
 * after storing, ack-after-store.ts), after a client made and closed at once has shown that aedes'
 * clients have the fields used here.
 * Shared subscriptions (shared.ts) deliver to one chosen client through its `deliverQoS` /
 * `deliver0`, with a packet identifier taken from its `_nextId` (aedes' QoSPacket keeps one that is
 * set), and a fresh `counter` of the broker for a message sent again to another member.
 * MQTT 5 (v5-flow.ts): every packet aedes writes to a v5 client passes its OutboundFlow first (the
 * writeToStream tap); at its CONNECT, before aedes reads them, `packet.keepalive` and the client's
 * `_serverKeepAlive` (aedes 2 sends it in CONNACK and times the client by it) take our Server Keep
 * Alive; the flow reads the client's `subscriptions` (aedes 2's `si` on each), `clean`, and clears a
 * discarded message through `broker.persistence.outgoingClearMessageId`; an oversized frame from a
 * connected v5 client goes to aedes 2's `rejectPacketTooLarge` (DISCONNECT 0x95).
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
import type { PersistenceLayer } from './persistence.js'
import { afterWrite, beforeDestroy, beforeWrite, packetIn, type ConnState, type WirePacket } from './conn.js'
import { screenSubscribe } from './shared-topics.js'
import { checkSlow, dropQoS0, oversize, validMessageId, validString, type Guards } from './guard.js'
import { limitsOf, OutboundFlow, serverKeepAlive, type FlowPeer, type OutPacket } from './v5-flow.js'

/** An upstream internal this broker needs is missing: the start stops with this one line. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
}

const kConn = Symbol('connState')
const kGuards = Symbol('guards')
const kFlow = Symbol('v5Flow')

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
  _list: { slice: (start: number, end: number) => Uint8Array, length: number }
  client?: ClientInternals
  _parseString: (maybeBuffer?: boolean) => string | null
  _parseMessageId: () => boolean
  _parseLength: () => boolean
  _emitError: (err: Error) => void
  prependListener: (event: 'packet', fn: (this: ParserInternals, packet: WirePacket) => void) => unknown
  on: (event: 'packet', fn: (packet: WirePacket) => void) => unknown
  [kConn]?: ConnState
}

/** bl's plain BufferList: what the parser uses of its `_list` (append, consume, slice, reads), without a stream */
type BufferListCtor = new () => ParserInternals['_list']

/** aedes' Client: `_parser` and `deliver0` are made per client in its constructor */
interface ClientInternals {
  _parser: ParserInternals
  conn: Duplex
  /** set once CONNACK was written: what arrives before it waits in aedes' queue (guard.ts bounds it) */
  connackSent?: boolean
  clean: boolean
  /** aedes 2: the protocol version of the CONNECT, 5 for MQTT 5 (null before it) */
  version: number | null
  connected: boolean
  subscriptions: Record<string, { qos: number, si?: number } | undefined>
  waitForDrain: (cb: (err: Error | null, client: unknown) => void) => void
  deliver0: (packet: unknown, cb: (err?: Error | null) => void) => void
  deliverQoS: (packet: unknown, cb: (err?: Error | null) => void) => void
  _nextId: number
  closed: boolean
  id: string
  close: (done?: () => void) => void
  /** aedes 2: the Clean Start flag of the CONNECT (`clean` means "session expiry 0" there) */
  _cleanStart?: boolean
  duplicates: Record<string, number | undefined>
  /** aedes 2: DISCONNECT with a reason code to a v5 client, then close (a plain close for 3.1.1) */
  disconnect?: (opts: { reasonCode: number }, done?: () => void) => void
  /** aedes 2: DISCONNECT 0x95 to a connected MQTT 5 client, then close; others are closed */
  rejectPacketTooLarge: (size: number) => void
  /** aedes 2: read at CONNACK (its property) and by its keep-alive timer, if set before either */
  _serverKeepAlive?: number
  broker: { persistence: { outgoingClearMessageId: (client: unknown, packet: object) => Promise<unknown> } }
  [kGuards]?: Guards
}

/** the aedes instance */
interface AedesInternals {
  clients: Record<string, (Client & ClientInternals) | undefined>
  /** other brokers' heartbeats, by broker id */
  brokers: Record<string, unknown>
  authorizePublish?: (client: unknown, packet: { properties?: Record<string, unknown> }, cb: (err?: Error | null) => void) => void
  persistence: { getWill?: (client: { id: string }) => Promise<{ brokerId?: string } | null | undefined> }
  /** aedes 2: its in-memory timers of a session's expiry and of a delayed will, by client id */
  clearSessionExpiry?: (clientId: string) => void
  clearDelayedWill?: (clientId: string) => void
  publishWill?: (client: ClientInternals, will: object) => void
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

type Tapped = object & { [kConn]?: ConnState, [kFlow]?: OutboundFlow }

// ---- the packages, and their versions for the error line

const ownRequire = createRequire(import.meta.url)
/** mqtt-packet's module object, resolved once: its writeToStream is read from it at each call, so the tap sees it */
const mqttPacketModule = ownRequire('mqtt-packet') as MqttPacketModule
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
/** bl's BufferList, as mqtt-packet resolves it (set with the patches) */
let BufferList: BufferListCtor | null = null

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
  const mqttPacket = mqttPacketModule
  if (typeof mqttPacket.parser !== 'function') throw missing(MQTT_PACKET, 'parser()')
  const sample = mqttPacket.parser()
  const parserProto = Object.getPrototypeOf(sample) as Record<string, unknown>
  if (typeof sample.prependListener !== 'function') throw missing(MQTT_PACKET, 'Parser (an EventEmitter)')
  if (typeof sample._emitError !== 'function') throw missing(MQTT_PACKET, 'Parser.prototype._emitError')
  if (typeof sample._list?.slice !== 'function') throw missing(MQTT_PACKET, 'Parser#_list.slice')
  // the parser's byte list is bl's BufferListStream, a Duplex it never uses as a stream; its plain
  // BufferList has the same methods (the stream copies them from it) at a fraction of the memory
  const bl = createRequire(ownRequire.resolve('mqtt-packet'))('bl') as { BufferList?: BufferListCtor }
  if (typeof bl.BufferList !== 'function') throw missing('bl (mqtt-packet\'s byte list)', 'BufferList')
  const list = new bl.BufferList() as unknown as Record<string, unknown>
  for (const m of ['append', 'consume', 'slice', 'readUInt8', 'readUInt16BE', 'readUInt32BE', 'toString']) {
    if (typeof list[m] !== 'function' || typeof (sample._list as unknown as Record<string, unknown>)[m] !== 'function') throw missing('bl (mqtt-packet\'s byte list)', `BufferList#${m}`)
  }
  BufferList = bl.BufferList
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
    const flow = stream[kFlow]
    if (flow !== undefined) {
      // MQTT 5 limits towards the client (v5-flow.ts): null waits or is discarded, nothing is sent now
      const shaped = flow.outgoing(packet as OutPacket)
      if (shaped === null) return true
      packet = shaped as WirePacket
    }
    const st = stream[kConn]
    if (st !== undefined) {
      if (packet.cmd === 'connack') sharedSubscriptionsAvailable(packet)
      beforeWrite(st, stream as Duplex)
    }
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
    if (client === undefined || guards === undefined) return true
    const length = this.packet.length
    return !oversize(client, guards, length, client.connackSent !== true, () => {
      // [MQTT-3.2.2-15]: DISCONNECT 0x95 first (aedes stops reading the connection meanwhile)
      if (client.version === 5 && client.connected) client.rejectPacketTooLarge(length)
      else client.conn.destroy()
    })
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
  // nothing is parsed before the first read: the stream-less list takes the place of the Duplex (about 1 KB)
  if (BufferList !== null && parser._list.length === 0) parser._list = new BufferList()
  parser[kConn] = state
  parser.prependListener('packet', parsed)
  sharedSubscriptionsAreOurs(parser);
  (stream as Tapped)[kConn] = state
  // a stream that writes batches is worth holding (TCP, TLS, our WebSocket streams)
  if (stream instanceof Duplex && typeof (stream as { _writev?: unknown })._writev === 'function') state.coalesce = true
}

/** The state tapConnection gave `stream` (our own property of the stream aedes was handed). */
export function connStateOf (stream: object | null | undefined): ConnState | undefined {
  return (stream as Tapped | null | undefined)?.[kConn]
}

/** one listener function for every parser: no closure per connection */
function parsed (this: ParserInternals, packet: WirePacket): void {
  const st = this[kConn]
  if (st !== undefined) {
    packetIn(st, packet)
    if (packet.cmd === 'subscribe') screenSubscribe((packet as { subscriptions?: Array<{ topic: string }> }).subscriptions ?? [])
  }
  const client = this.client
  if (client === undefined) return
  if (packet.cmd === 'connect') connecting(client, packet as ConnectPacket)
  else (client.conn as Tapped)[kFlow]?.incoming(packet)
}

interface ConnectPacket extends WirePacket {
  protocolVersion?: number
  keepalive?: number
  properties?: { receiveMaximum?: number, maximumPacketSize?: number, topicAliasMaximum?: number }
}

const V5 = Object.freeze({ protocolVersion: 5 })

/** An MQTT 5 CONNECT (before aedes handles it): its limits on what it is sent, and our Server Keep Alive. */
function connecting (c: ClientInternals, packet: ConnectPacket): void {
  const guards = c[kGuards]
  const conn = c.conn as Tapped
  if (guards === undefined || packet.protocolVersion !== 5 || conn[kFlow] !== undefined) return
  const keepalive = serverKeepAlive(packet.keepalive ?? 0, guards.serverKeepAlive?.() ?? 0)
  if (keepalive !== undefined) {
    // aedes holds the client to packet.keepalive and sends _serverKeepAlive in CONNACK (its keepaliveLimit
    // would also refuse MQTT 3.1.1 clients); the registry shows the value in force
    packet.keepalive = keepalive
    c._serverKeepAlive = keepalive
  }
  const peer: FlowPeer = {
    // through the module object, so the tap (and the flow) sees it
    send: (p) => { mqttPacketModule.writeToStream(p as WirePacket, c.conn as Tapped, V5) },
    discarded: (p) => {
      if (!c.clean) c.broker.persistence.outgoingClearMessageId(c, p).catch(() => {})
    },
    dropped: () => { guards.onDrop(c) },
    subscriptions: () => c.subscriptions
  }
  // what waits for the window is bounded as a slow consumer's backlog is
  const bound = { messages: guards.maxHeld, bytes: guards.slowBytes }
  conn[kFlow] = new OutboundFlow(limitsOf(packet.properties), peer, bound, guards.maxPacketSize?.() ?? 0)
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

/**
 * DISCONNECT with `reasonCode` to an MQTT 5 client whose connection aedes is about to destroy on an
 * error (a keep-alive timeout: aedes destroys it in the same turn, which drops writes still held for
 * coalescing): written and flushed now. Nothing for other clients (3.1.1 has no server DISCONNECT).
 */
export function disconnectNow (client: unknown, reasonCode: number): void {
  const c = client as ClientInternals
  const conn = c.conn as Duplex & Tapped
  if (c.version !== 5 || conn.destroyed) return
  mqttPacketModule.writeToStream({ cmd: 'disconnect', reasonCode } as WirePacket, conn, V5)
  const st = conn[kConn]
  if (st !== undefined) beforeDestroy(st, conn, null)
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
  nullPrototypeMaps(a)
  cleanIncomingAtClose(aedes)
  withoutWillDelay(a)
  replayQueueOnResume(aedes)
  timersFollowTheSession(a)
  delayedWillOnlyIfStillStored(a)

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
    if (typeof client.rejectPacketTooLarge !== 'function') throw missing(AEDES, 'Client#rejectPacketTooLarge (MQTT 5)')
    if (typeof client.broker?.persistence?.outgoingClearMessageId !== 'function') throw missing(AEDES, 'Client#broker.persistence.outgoingClearMessageId')
    if (!('version' in client) || !('connected' in client)) throw missing(AEDES, 'Client#version and Client#connected')
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

// ---- what aedes 2.0.0-beta.1 lacks (cut before aedes 1.2's fixes): one function per fix, each
// to go once upstream ships it. Each has a test that fails without it (test/hardening/mqtt.test.ts
// 8 and 9, Paho's test_flow_control2, test_will_message, test_offline_message_queueing).

/**
 * GHSA-52qw-whmv-87c5: aedes keys its clients, brokers and each client's subscriptions and
 * duplicates in plain objects, where a client id or filter named `constructor` or `__proto__`
 * finds the inherited member (one CONNECT as `constructor` threw and ended the process).
 */
function nullPrototypeMaps (a: AedesInternals): void {
  a.clients = Object.assign(Object.create(null) as AedesInternals['clients'], a.clients)
  a.brokers = Object.assign(Object.create(null) as AedesInternals['brokers'], a.brokers)
  const handle = a.handle.bind(a)
  a.handle = (conn, ...rest: unknown[]) => {
    const client = (handle as (conn: Duplex, ...r: unknown[]) => Client)(conn, ...rest) as unknown as ClientInternals
    client.subscriptions = Object.create(null) as ClientInternals['subscriptions']
    client.duplicates = Object.create(null) as ClientInternals['duplicates']
    return client as unknown as Client
  }
}

/**
 * GHSA-p8r9-qf8w-p73r: the QoS 2 packet ids a connection left unreleased are session state
 * [MQTT-3.1.2-6]; aedes 2 never drops them, so a clean session's first QoS 2 message with a
 * reused id was taken for a duplicate: PUBREC, PUBCOMP, and lost. aedes wipes a session through
 * `cleanSubscriptions` (Clean Start, and a v5 session that ends), so the ids go with it.
 */
export const cleanIncomingWithSession: PersistenceLayer = (next) => ({
  async cleanSubscriptions (client) {
    await next.cleanSubscriptions(client)
    if (typeof next.cleanIncoming === 'function') await next.cleanIncoming(client)
  }
})

/**
 * aedes 2 wipes a v5 session that ends with its connection (expiry 0) without waiting for the
 * store, and forgets the client at once: a reconnect quicker than the store (MongoDB) found the old
 * subscriptions, and `sessionPresent` for a session that had ended [MQTT-3.1.2-5]. The read at
 * CONNECT waits for a wipe of that client id still under way.
 */
export const readAfterWipe: PersistenceLayer = (next) => {
  const wiping = new Map<string, Promise<void>>()
  return {
    cleanSubscriptions (client) {
      const done = next.cleanSubscriptions(client)
      const settled: Promise<void> = done.then(forget, forget)
      wiping.set(client.id, settled)
      return done
      function forget (): void { if (wiping.get(client.id) === settled) wiping.delete(client.id) }
    },
    async subscriptionsByClient (client) {
      await wiping.get(client.id)
      return await next.subscriptionsByClient(client)
    }
  }
}

/** The same when a 3.1.1 clean session ends with its connection (aedes 2 wipes only v5 sessions then). */
function cleanIncomingAtClose (aedes: Aedes): void {
  aedes.on('clientDisconnect', (client) => {
    const c = client as unknown as ClientInternals
    const p = (aedes as unknown as { persistence: { cleanIncoming?: (c: unknown) => Promise<void> } }).persistence
    if (c.version !== 5 && c.clean && typeof p.cleanIncoming === 'function') p.cleanIncoming(client).catch(() => {})
  })
}

/** DISCONNECT reason code 0x93 [MQTT-3.3.4-9] */
const RECEIVE_MAXIMUM_EXCEEDED = 0x93
/** the packet ids of inbound QoS 2 messages awaiting PUBREL, per connection (aedes 1.2's _inboundInflight) */
const awaitingRelease = new WeakMap<object, Set<number | undefined>>()

/**
 * aedes 1.2's `maxInflightInbound`, gone in the beta, and Receive Maximum enforced (the beta only
 * advertises it): a connection may hold `limit` inbound QoS 2 messages awaiting PUBREL. One more
 * is refused before it is stored, a v5 client told why (DISCONNECT 0x93), a 3.1.1 one (no reason
 * codes) disconnected. Counted when aedes stores a new one (a resent duplicate is found first and
 * stored once), released by PUBREL; the count is taken synchronously, as one read of the socket
 * hands aedes many packets at once.
 */
export function capInboundQoS2 (limit: number): PersistenceLayer {
  return (next) => {
    const store = next.incomingStorePacket
    const del = next.incomingDelPacket
    const clean = next.cleanIncoming
    if (limit <= 0 || store === undefined || del === undefined) return {}
    return {
      incomingStorePacket (client, packet) {
        let ids = awaitingRelease.get(client)
        if (ids === undefined) awaitingRelease.set(client, ids = new Set())
        const id = packet.messageId
        if (!ids.has(id) && ids.size >= limit) return receiveMaximumExceeded(client as unknown as ClientInternals, limit)
        ids.add(id)
        return store(client, packet).catch((err: unknown) => {
          ids.delete(id) // nothing stored: the slot goes back
          throw err
        })
      },
      incomingDelPacket (client, packet) {
        awaitingRelease.get(client)?.delete(packet.messageId)
        // aedes 2 answers PUBCOMP whatever this gives, through a `.finally` that rethrows: a store
        // that fails here (a MongoDB pool timeout under load) ended the process as an unhandled rejection
        return del(client, packet).catch(() => {})
      },
      ...clean !== undefined
        ? { cleanIncoming (client) { awaitingRelease.get(client)?.clear(); return clean(client) } }
        : {}
    }
  }
}

/** Rejects (aedes then closes the connection) after telling a v5 client why. */
async function receiveMaximumExceeded (client: ClientInternals, limit: number): Promise<never> {
  const err = new Error(`Receive Maximum exceeded: ${limit} inbound QoS 2 messages already awaiting PUBREL`)
  if (client.version === 5 && typeof client.disconnect === 'function') {
    // lingering, as every server DISCONNECT (disconnect.ts): the client is still sending, and a socket
    // destroyed with unread input answers with a reset that can overtake the DISCONNECT (Paho's
    // test_flow_control2 then failed with ECONNRESET)
    const st = connStateOf(client.conn)
    if (st !== undefined) st.linger = true
    await new Promise<void>(resolve => client.disconnect!({ reasonCode: RECEIVE_MAXIMUM_EXCEEDED }, resolve))
  }
  throw err
}

/**
 * aedes 2 publishes a will with the will's properties, Will Delay Interval among them, which is
 * no PUBLISH property [MQTT-3.3.2]: Paho's client drops the connection on it. Both its paths (the
 * client's close, the sweep of dead brokers' wills) authorize the will first, so it goes there.
 */
function withoutWillDelay (a: AedesInternals): void {
  const authorize = a.authorizePublish
  if (typeof authorize !== 'function') throw missing(AEDES, 'Aedes#authorizePublish')
  a.authorizePublish = function authorizeWithoutWillDelay (client, packet, cb) {
    const props = packet.properties
    if (props?.willDelayInterval !== undefined) {
      const { willDelayInterval: _, ...rest } = props
      packet.properties = rest
    }
    authorize.call(a, client, packet, cb)
  }
}

/**
 * aedes 2's `client.clean` means "session expiry 0", and its replay of the queue at CONNECT
 * drops the queue of a clean session: a v5 client that resumes its session (Clean Start 0) with
 * expiry 0 gets `sessionPresent` and loses its queued messages [MQTT-3.1.2-5]. From its CONNACK
 * until the replay is done ('connected'), such a client reads as not clean; once closed, as it is.
 */
function replayQueueOnResume (aedes: Aedes): void {
  aedes.on('connackSent', (_connack, client) => {
    const c = client as unknown as ClientInternals
    if (c.version !== 5 || c._cleanStart !== false || !c.clean || c.closed) return
    let clean = true
    Object.defineProperty(c, 'clean', {
      configurable: true,
      enumerable: true,
      get: () => clean && c.closed,
      set: (v: boolean) => { clean = v }
    })
    client.once('connected', () => {
      Object.defineProperty(c, 'clean', { configurable: true, enumerable: true, writable: true, value: clean })
    })
  })
}

/**
 * aedes 2 answers a v5 SUBSCRIBE to `$share/...` with 0x9E (not supported) itself, before any
 * hook, where it tests `client.version === 5`; for 3.1.1 it subscribes, and our layer (shared.ts,
 * through `patchBroker`'s subscribe tap) takes the filter. So a v5 SUBSCRIBE naming a shared filter
 * is handed to aedes' listener with the client reading as 3.1.1, restored right after it: aedes
 * handles a SUBSCRIBE synchronously up to that test (its authorization, which is asynchronous,
 * comes after the restore, with the version right for its reason codes).
 */
function sharedSubscriptionsAreOurs (parser: ParserInternals): void {
  parser.prependListener('packet', asSharedSubscriber)
  parser.on('packet', restoreVersion)
}

const kVersion = Symbol('version')
type Versioned = ClientInternals & { [kVersion]?: number }

function asSharedSubscriber (this: ParserInternals, packet: WirePacket): void {
  const c = this.client as Versioned | undefined
  if (packet.cmd !== 'subscribe' || c?.version !== 5 || c.connackSent !== true) return
  const subs = (packet as { subscriptions?: Array<{ topic: string }> }).subscriptions
  if (subs?.some(s => s.topic.startsWith('$share/')) !== true) return
  c[kVersion] = 5
  c.version = 4
  // aedes' listener closing the client removes `restoreVersion`: restored at the latest after this turn
  queueMicrotask(() => { restore(c) })
}

function restoreVersion (this: ParserInternals): void {
  const c = this.client as Versioned | undefined
  if (c !== undefined) restore(c)
}

function restore (c: Versioned): void {
  const v = c[kVersion]
  if (v === undefined) return
  c.version = v
  delete c[kVersion]
}

/** aedes 2's v5 CONNACK says shared subscriptions are not available; ours are (absent means available [MQTT-3.2.2.3.16]). */
function sharedSubscriptionsAvailable (packet: WirePacket): void {
  const props = (packet as { properties?: { sharedSubscriptionAvailable?: boolean } }).properties
  if (props?.sharedSubscriptionAvailable === false) delete props.sharedSubscriptionAvailable
}

/**
 * aedes 2 times a v5 session's expiry and a delayed will in the memory of the node the client
 * left, and checks only that node's clients when the timer fires: in a cluster it wiped a session
 * that had resumed on another node from the shared store, and published the will of a client that
 * had come back in time elsewhere. Every node hears each registration on the bus (aedes' own
 * `$SYS/<broker>/new/clients`, which closes an older connection with the id): a registration on
 * another node ends this node's timers for that client id.
 */
function timersFollowTheSession (a: AedesInternals): void {
  const clearSession = a.clearSessionExpiry
  const clearWill = a.clearDelayedWill
  if (typeof clearSession !== 'function' || typeof clearWill !== 'function') throw missing(AEDES, 'Aedes#clearSessionExpiry/clearDelayedWill')
  onRegisteredElsewhere(a as unknown as Aedes, (clientId) => {
    clearSession.call(a, clientId)
    clearWill.call(a, clientId)
  })
}

/**
 * The same for a will whose node missed that registration (the bus was down, or the client came
 * back before this node's timer was set): a client that returns, on any node, replaces or deletes
 * its stored will at CONNECT, so a will is published only while the store still holds this
 * node's will of that client id.
 */
function delayedWillOnlyIfStillStored (a: AedesInternals): void {
  const publishWill = a.publishWill
  const getWill = a.persistence.getWill
  if (typeof publishWill !== 'function' || typeof getWill !== 'function') throw missing(AEDES, 'Aedes#publishWill and its persistence\'s getWill')
  a.publishWill = function publishStoredWill (client, will) {
    getWill.call(a.persistence, { id: client.id }).then((stored) => {
      if (stored != null && stored.brokerId === a.id) publishWill.call(a, client, will)
    }, () => { publishWill.call(a, client, will) }) // the store did not answer: as aedes would
  }
}

/** `fn(clientId)` for every client registered on another broker of the bus (aedes' `$SYS/<broker>/new/clients`). */
export function onRegisteredElsewhere (aedes: Aedes, fn: (clientId: string) => void): void {
  const a = aedes as unknown as AedesInternals
  emitterOf(aedes).on('$SYS/+/new/clients', (packet, cb) => {
    const p = packet as { topic: string, payload?: Buffer | string }
    if (p.topic.split('/')[1] !== a.id && p.payload !== undefined) fn(p.payload.toString())
    cb()
  }, () => {})
}

/** A v5 client's Session Expiry Interval in seconds (as aedes applied it); null for 3.1.1. */
export function sessionExpiryOf (client: Client): number | null {
  return client.version === 5 ? client.sessionExpiryInterval : null
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
