// A node whose MongoDB is reached through a TCP proxy a test can cut or pause (the store going
// away and coming back), shared by the health, alarm-history and events tests.
import type { TestContext } from 'node:test'
import { CuttableProxy } from './cuttable-proxy.js'
import { startTestNode, type TestNode } from './helpers.js'
export { CuttableProxy }

export const MONGO = process.env.MONGODB_TEST_URL

export async function behindProxy (t: TestContext, db: string, env: Record<string, string> = {}): Promise<{ proxy: CuttableProxy, n: TestNode }> {
  const target = new URL(MONGO as string)
  const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) })
  await proxy.open()
  let n: TestNode
  try {
    n = await startTestNode(t, { MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/${db}_${process.pid}`, ...env })
  } catch (err) {
    await proxy.cut()
    throw err
  }
  // after hooks run in the order they were added: the node closes with its store still reachable
  // (closed with it cut, one run of the full suite hung past the file's 300 s), then the proxy goes
  t.after(() => proxy.cut())
  return { proxy, n }
}
