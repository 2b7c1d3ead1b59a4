// A TCP proxy to the MongoDB test server that a test can cut or pause (store outages).
import { createServer, connect, type Server, type Socket } from 'node:net'

/** A TCP proxy to the MongoDB test server that can drop every connection and refuse new ones. */
export class CuttableProxy {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  private paused = false
  private held: Array<[Socket, Buffer]> = []
  port = 0

  constructor (private readonly target: { host: string, port: number }) {}

  async open (): Promise<void> {
    this.server = createServer(client => {
      const upstream = connect(this.target.port, this.target.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      // forwarded by hand so a pause can hold bytes back, as a stopped process's socket buffers would
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (chunk: Buffer) => { if (this.paused) this.held.push([to, chunk]); else to.write(chunk) })
        from.on('end', () => to.end())
      }
      forward(client, upstream)
      forward(upstream, client)
    })
    await new Promise<void>(resolve => this.server?.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as { port: number }).port
  }

  /** Like a SIGSTOPped server: connections stay open and accepted, but nothing moves. */
  pause (): void {
    this.paused = true
  }

  resume (): void {
    this.paused = false
    for (const [to, chunk] of this.held) if (!to.destroyed) to.write(chunk)
    this.held = []
  }

  async cut (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => this.server ? this.server.close(() => resolve()) : resolve())
    this.server = null
  }
}
