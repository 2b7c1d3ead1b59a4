/**
 * The node's network listeners (mqtt:tcp, mqtt:ws on /mqtt, mqtt:ssl): accept, enforce maxConns,
 * count open connections and closed ones by reason, and release their ports on close.
 */

import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { WebSocketServer } from 'ws'
import type { IncomingMessage } from 'node:http'
import { normalizeIp } from './conn.js'
import type { Peer } from './conn.js'
import type { ListenerInfo, ListenerProtocol, Logger } from './types.js'
import { webSocketStream } from './upstream.js'

/** Hands an accepted connection to the broker. */
export type OnConnection = (stream: Duplex, listener: Listener, peer: Peer, req?: IncomingMessage) => void
/** A connection the broker was handed closed: the broker settles it and names the reason. */
export type OnClose = (stream: Duplex) => string

export class Listener {
  port = 0
  private readonly open = new Set<Duplex>()
  private readonly shutdown: Record<string, number> = {}

  constructor (
    readonly protocol: ListenerProtocol,
    private readonly host: string,
    /** changeable at runtime (listener.tcp.external.max_connections) */
    public maxConns: number,
    private readonly server: net.Server,
    private readonly log: Logger,
    private readonly onClose: OnClose
  ) {}

  /**
   * One 'close' listener for all of this listener's connections (the stream is `this`): a closure
   * and a `once` wrapper per connection cost more than the rest of our per-connection state.
   */
  private readonly closed = ((listener: Listener) => function closed (this: Duplex): void {
    listener.open.delete(this)
    const reason = listener.onClose(this)
    listener.shutdown[reason] = (listener.shutdown[reason] ?? 0) + 1
  })(this)

  /**
   * TCP_NODELAY on new connections (listener.<tcp|ssl|ws>.external.nodelay, EMQ X's default true):
   * a small packet goes out at once instead of waiting, under Nagle's algorithm, for the peer's
   * delayed ACK (up to 40 ms on Linux) while an earlier one is unacknowledged
   */
  noDelay = true

  get currentConns (): number { return this.open.size }

  info (): ListenerInfo {
    return {
      protocol: this.protocol,
      listenOn: `${this.host}:${this.port}`,
      // node accepts on one event loop: a single acceptor is the honest figure
      acceptors: 1,
      maxConns: this.maxConns,
      currentConns: this.open.size,
      shutdownCount: { ...this.shutdown },
      listening: this.server.listening
    }
  }

  /** Registers an accepted stream, or refuses it above maxConns. */
  accept (stream: Duplex, peer: Peer, onConnection: OnConnection, req?: IncomingMessage): void {
    if (this.open.size >= this.maxConns) {
      this.log.warn({ listener: this.protocol, peer: `${peer.ip}:${peer.port}` }, 'max connections reached, refusing')
      stream.destroy()
      return
    }
    this.open.add(stream)
    const socket = req?.socket ?? stream
    if (socket instanceof net.Socket) socket.setNoDelay(this.noDelay)
    onConnection(stream, this, peer, req)
    stream.on('close', this.closed)
  }

  async listen (port: number): Promise<void> {
    this.server.listen(port, this.host)
    await once(this.server, 'listening')
    const addr = this.server.address()
    this.port = typeof addr === 'object' && addr !== null ? addr.port : port
  }

  /** Stops accepting, destroys every open connection (also those that never sent CONNECT). */
  async close (): Promise<void> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    for (const s of this.open) s.destroy()
    if (this.server instanceof http.Server) this.server.closeAllConnections()
    await closed
  }
}

export interface ListenerConfig {
  host: string
  maxConns: number
  log: Logger
  onConnection: OnConnection
  onClose: OnClose
  /** a reverse proxy is in front: MQTT over WebSocket takes the client address from X-Forwarded-For */
  trustProxy?: boolean
}

export async function tcpListener (cfg: ListenerConfig, port: number): Promise<Listener> {
  const server = net.createServer()
  const l = new Listener('mqtt:tcp', cfg.host, cfg.maxConns, server, cfg.log, cfg.onClose)
  server.on('connection', (sock: net.Socket) => {
    l.accept(sock, { ip: normalizeIp(sock.remoteAddress), port: sock.remotePort ?? 0, peercert: 'nossl' }, cfg.onConnection)
  })
  await l.listen(port)
  return l
}

export async function tlsListener (cfg: ListenerConfig, o: { port: number, cert: string, key: string, ca?: string }): Promise<Listener> {
  const withCa = o.ca !== undefined
  const server = tls.createServer({
    cert: o.cert,
    key: o.key,
    ...(withCa ? { ca: o.ca } : {}),
    // client certificates are optional (EMQ X verify_none / fail_if_no_peer_cert=false);
    // only a certificate that verifies against `ca` is reported as peercert
    requestCert: withCa,
    rejectUnauthorized: false
  })
  const l = new Listener('mqtt:ssl', cfg.host, cfg.maxConns, server, cfg.log, cfg.onClose)
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    l.accept(sock, { ip: normalizeIp(sock.remoteAddress), port: sock.remotePort ?? 0, peercert: peerCn(sock) }, cfg.onConnection)
  })
  // handshake failures are per connection: log, do not crash
  server.on('tlsClientError', (err) => cfg.log.warn({ err: err.message }, 'tls handshake failed'))
  await l.listen(o.port)
  return l
}

function peerCn (sock: tls.TLSSocket): string {
  if (!sock.authorized) return 'nossl'
  const cn = sock.getPeerCertificate().subject?.CN as string | string[] | undefined
  const first = Array.isArray(cn) ? cn[0] : cn
  return first !== undefined && first !== '' ? first : 'nossl'
}

export async function wsListener (cfg: ListenerConfig, port: number): Promise<Listener> {
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end()
  })
  const wss = new WebSocketServer({
    server,
    path: '/mqtt',
    // MQTT over WebSocket uses subprotocol "mqtt" (MQTT 3.1.1 §6, [MQTT-6.0.0-3]); "mqttv3.1" for 3.1
    handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false
  })
  const l = new Listener('mqtt:ws', cfg.host, cfg.maxConns, server, cfg.log, cfg.onClose)
  wss.on('connection', (ws, req) => {
    const stream = webSocketStream(ws)
    stream.on('error', () => {}) // aedes attaches its own handler; this covers the refused case
    l.accept(stream, { ...wsPeer(req, cfg.trustProxy ?? false), peercert: 'nossl' }, cfg.onConnection, req)
  })
  wss.on('error', (err) => cfg.log.error({ err: err.message }, 'websocket server error'))
  await l.listen(port)
  return l
}

/**
 * The peer of a WebSocket connection: the socket under the HTTP upgrade request, or, with trustProxy,
 * the right-most X-Forwarded-For entry: the address our one trusted proxy (the socket's peer) saw and
 * appended. Entries left of it were sent by the client and can be forged, so they are never used.
 * Off by default: any client can send the header. The client's port is not forwarded: 0 then.
 */
export function wsPeer (req: IncomingMessage, trustProxy: boolean): { ip: string, port: number } {
  const socket = { ip: normalizeIp(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 }
  if (!trustProxy) return socket
  const xff = req.headers['x-forwarded-for']
  // repeated headers count as one comma-separated list (RFC 9110 §5.3)
  const hops = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',').map(s => s.trim()).filter(Boolean)
  const last = hops.at(-1)
  return last !== undefined && net.isIP(normalizeIp(last)) !== 0 ? { ip: normalizeIp(last), port: 0 } : socket
}
