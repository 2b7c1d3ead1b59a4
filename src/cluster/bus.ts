/**
 * The message bus between the nodes' aedes instances: mqemitter-redis (Redis PUBLISH/PSUBSCRIBE),
 * given to aedes as its `mq`. Every publish goes through Redis and comes back to every node,
 * including the publisher's, so subscribers anywhere get it.
 */
import { createRequire } from 'node:module'
import type { MembershipLog } from './membership.js'

interface RedisConn { ping (): Promise<string> }
export interface Bus {
  pubConn: RedisConn
  subConn: RedisConn
  state: { on (event: 'error', fn: (err: Error) => void): void }
  close (cb: () => void): void
}

// CommonJS without an ESM entry point
const MQEmitterRedis = createRequire(import.meta.url)('mqemitter-redis') as (opts: { connectionString: string }) => Bus

/** how long the start waits for Redis before refusing */
const CONNECT_TIMEOUT_MS = 5000

export async function openBus (url: string, log: MembershipLog): Promise<Bus> {
  const mq = MQEmitterRedis({ connectionString: url })
  // without a listener the emitter's 'error' would crash the process; ioredis reconnects by itself
  mq.state.on('error', (err) => { log.warn({ err: err.message }, 'cluster bus (Redis) error') })
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.all([mq.pubConn.ping(), mq.subConn.ping()]),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS) })
    ])
  } catch (err) {
    await new Promise<void>(resolve => mq.close(resolve))
    throw new Error(`the cluster bus at CLUSTER_BUS_URL=${url} cannot be reached (${(err as Error).message}); check the URL and that Redis is up`, { cause: err })
  } finally {
    clearTimeout(timer)
  }
  return mq
}
