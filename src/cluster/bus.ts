/**
 * The message bus between the nodes' aedes instances: mqemitter-redis (Redis PUBLISH/PSUBSCRIBE),
 * given to aedes as its `mq`. Every publish goes through Redis and comes back to every node,
 * including the publisher's, so subscribers anywhere get it.
 */
import { createRequire } from 'node:module'
import type { MembershipLog } from './membership.js'

interface RedisConn {
  ping (): Promise<string>
  subscribe (channel: string): Promise<unknown>
  on (event: 'messageBuffer', fn: (channel: Buffer, message: Buffer) => void): unknown
  quit (): Promise<unknown>
  disconnect (): void
  /** ioredis' connection state: 'ready' when commands are sent at once */
  status: string
}
interface RedisPubConn extends RedisConn {
  publish (channel: string, message: Buffer): Promise<number>
}
export interface Bus {
  pubConn: RedisPubConn
  subConn: RedisConn
  /** channels its message handler skips (it decodes everything else as its own msgpack packets) */
  _ignoredTopicsSet?: Set<string>
  emit (msg: object, done?: (err?: Error) => void): void
  state: { on (event: 'error', fn: (err: Error) => void): void }
  close (cb: () => void): void
}

// CommonJS without an ESM entry point
const MQEmitterRedis = createRequire(import.meta.url)('mqemitter-redis') as (opts: { connectionString: string }) => Bus

/** how long the start waits for Redis before refusing */
const CONNECT_TIMEOUT_MS = 5000
/** how long a close waits for Redis to answer QUIT before it drops the connections */
const CLOSE_TIMEOUT_MS = 1000

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
  boundClose(mq)
  return mq
}

/**
 * mqemitter-redis closes with QUIT and waits for both connections to end. With Redis gone, ioredis
 * queues QUIT while it reconnects for ever (a node was still running 30 minutes after SIGTERM), and
 * rejects it after its retries, unhandled (which ends the process). Here a connection that is not
 * ready is dropped at once, a QUIT unanswered within CLOSE_TIMEOUT_MS too, and QUIT never rejects.
 */
function boundClose (mq: Bus): void {
  for (const conn of [mq.pubConn, mq.subConn]) {
    const quit = conn.quit.bind(conn)
    conn.quit = async () => await quit().catch(() => 'OK')
  }
  const close = mq.close.bind(mq)
  mq.close = (cb) => {
    let finished = false
    const finish = (): void => { if (!finished) { finished = true; clearTimeout(timer); cb() } }
    // a connection that lost its socket before emits no 'end' on disconnect: closed is closed then
    const drop = (): void => { mq.pubConn.disconnect(); mq.subConn.disconnect(); setTimeout(finish, 100) }
    const timer = setTimeout(drop, CLOSE_TIMEOUT_MS)
    close(finish)
    if (mq.pubConn.status !== 'ready' || mq.subConn.status !== 'ready') drop()
  }
}

/**
 * Calls `fn` with each message this node publishes on the bus and the number of Redis
 * subscriptions it reached (PUBLISH's answer): 0 means no node has a subscriber for its topic.
 * mqemitter-redis publishes synchronously inside `emit`, which is how the two are paired.
 */
export function observeReceivers (bus: Bus, fn: (msg: object, receivers: number) => void): void {
  let current: object | null = null
  const publish = bus.pubConn.publish.bind(bus.pubConn)
  bus.pubConn.publish = (channel, message) => {
    const msg = current
    current = null
    const sent = publish(channel, message)
    if (msg !== null) sent.then(n => { fn(msg, n) }, () => {})
    return sent
  }
  const emit = bus.emit.bind(bus)
  bus.emit = (msg, done) => {
    current = msg
    try {
      emit(msg, done)
    } finally {
      current = null
    }
  }
}

/**
 * A side channel on the bus's Redis connections for the nodes' live events (src/services/events.ts).
 * mqemitter-redis pattern-subscribes MQTT wildcard filters (`#` is Redis `*`), so it would receive
 * this channel too and decode it as one of its packets: the channel goes into the set of channels
 * its handler skips (its own mechanism for Sentinel's hello channel), checked here at start.
 */
export async function eventChannel (bus: Bus, channel: string, onMessage: (message: Buffer) => void): Promise<{ publish: (message: Buffer) => void }> {
  const ignored = bus._ignoredTopicsSet
  if (!(ignored instanceof Set)) throw new Error('mqemitter-redis has no _ignoredTopicsSet: the live event channel cannot share its connections')
  ignored.add(channel)
  bus.subConn.on('messageBuffer', (ch, message) => { if (ch.toString('utf8') === channel) onMessage(message) })
  await bus.subConn.subscribe(channel)
  return { publish: (message) => { bus.pubConn.publish(channel, message).catch(() => {}) } }
}
