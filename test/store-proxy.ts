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
  t.after(() => proxy.cut())
  const n = await startTestNode(t, { MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/${db}_${process.pid}`, ...env })
  return { proxy, n }
}
