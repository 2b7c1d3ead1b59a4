// A node whose MongoDB is reached through a TCP proxy a test can cut or pause (the store going
// away and coming back), shared by the store-fault, health and alarm-history tests.
import type { TestContext } from 'node:test'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { startTestNode, type TestNode } from './helpers.js'

export const MONGO = process.env.MONGODB_TEST_URL

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

/** A node whose MongoDB is reached through a proxy the test can cut or pause. */
export async function behindProxy (t: TestContext, db: string, env: Record<string, string> = {}): Promise<{ proxy: CuttableProxy, n: TestNode }> {
  const target = new URL(MONGO as string)
  const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) })
  await proxy.open()
  t.after(() => proxy.cut())
  const n = await startTestNode(t, { MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/${db}_${process.pid}`, ...env })
  return { proxy, n }
}
