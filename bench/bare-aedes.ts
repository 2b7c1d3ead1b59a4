/**
 * A baseline broker: bare aedes (the version ours runs) on one TCP port, nothing else. No hooks, no
 * registry, no API. BENCH_PERSISTENCE=memory (aedes' default in-memory persistence) or sqlite (our
 * durable src/broker/sqlite-persistence.ts under BENCH_DATA_DIR), so the report can tell the cost of
 * durability from the cost of the management layer. Prints `{"ready":<port>}` once listening.
 */
import { Aedes } from 'aedes'
import type { AedesOptions } from 'aedes'
import { createRequire } from 'node:module'
import net from 'node:net'
import { createSqlitePersistence } from '../src/broker/sqlite-persistence.js'

const kind = process.env.BENCH_PERSISTENCE ?? 'memory'
const port = Number(process.env.BENCH_PORT ?? '0')

async function main (): Promise<void> {
  const opts: AedesOptions = {}
  let closePersistence = (): void => {}
  if (kind === 'sqlite') {
    const dir = process.env.BENCH_DATA_DIR
    if (dir === undefined) throw new Error('BENCH_DATA_DIR is required for sqlite')
    const p = await createSqlitePersistence({ dataDir: dir })
    opts.persistence = p as unknown as NonNullable<AedesOptions['persistence']>
    closePersistence = () => { p.close() }
  } else if (kind === 'memory') {
    // aedes' own default, named explicitly
    opts.persistence = (createRequire(import.meta.url)('aedes-persistence') as () => NonNullable<AedesOptions['persistence']>)()
  } else {
    throw new Error(`BENCH_PERSISTENCE=${kind}: memory or sqlite`)
  }
  const aedes = await Aedes.createBroker(opts)
  // TCP_NODELAY as our node sets it by default (EMQ X's listener.tcp.external.nodelay = true)
  const server = net.createServer({ noDelay: true }, (socket) => { aedes.handle(socket) })
  server.listen(port, '127.0.0.1', () => {
    const addr = server.address() as net.AddressInfo
    process.stdout.write(JSON.stringify({ ready: addr.port }) + '\n')
  })
  const stop = (): void => {
    server.close()
    aedes.close(() => { closePersistence(); process.exit(0) })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
