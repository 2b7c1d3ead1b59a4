/**
 * A watch on a MongoClient's server monitor, through the driver's public heartbeat events.
 *
 * Seen with driver 6.17 (store-outage test, the server's connections reset at once): the monitor
 * began a heartbeat on the connection being reset and it never settled, neither succeeded nor
 * failed. The topology then kept the server as Unknown for good: every operation failed server
 * selection after its timeout, minutes after the server was back, until a restart. A heartbeat
 * outstanding longer than any of its own timeouts allow is stuck: the client is closed and
 * connected again (its Db and Collection handles stay valid, they look the topology up per
 * operation); operations meanwhile fail fast, which aedes answers by closing the client's
 * connection, never by acknowledging.
 */
import type { MongoClient } from 'mongodb'

export interface MonitorWatch { stop: () => void }

/**
 * `stuckMs` must exceed connectTimeoutMS + heartbeatFrequencyMS (a streaming heartbeat waits up to
 * the latter for the server's answer). `onRestart` is told when the client is reconnected, or why not.
 */
export function watchMonitor (client: MongoClient, stuckMs: number, onRestart: (err?: unknown) => void, retryMs = 1000): MonitorWatch {
  let since: number | null = null
  let restarting = false
  let stopped = false
  const onStarted = (): void => { since ??= Date.now() }
  const onSettled = (): void => { since = null }
  client.on('serverHeartbeatStarted', onStarted)
  client.on('serverHeartbeatSucceeded', onSettled)
  client.on('serverHeartbeatFailed', onSettled)

  const restart = async (): Promise<void> => {
    restarting = true
    since = null
    try {
      await client.close()
      // until it connects: a server still down makes connect() fail, and a closed client runs nothing
      for (;;) {
        if (stopped) return
        try {
          await client.connect()
          onRestart()
          return
        } catch (err) {
          onRestart(err)
          await new Promise(resolve => setTimeout(resolve, retryMs).unref())
        }
      }
    } finally {
      restarting = false
    }
  }

  const timer = setInterval(() => {
    if (since === null || restarting || stopped || Date.now() - since < stuckMs) return
    restart().catch(onRestart)
  }, Math.min(1000, stuckMs))
  timer.unref()

  return {
    stop () {
      stopped = true
      clearInterval(timer)
      client.off('serverHeartbeatStarted', onStarted)
      client.off('serverHeartbeatSucceeded', onSettled)
      client.off('serverHeartbeatFailed', onSettled)
    }
  }
}
