/** Process entry: configuration from the environment, one node, a clean stop on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config.js'
import { startNode } from './node.js'

/** SIGTERM/SIGINT end the process within this long (README "Configuration") */
const SHUTDOWN_BOUND_MS = 8000

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration error: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
  const node = await startNode(config)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    node.log.info({ signal }, 'stopping')
    // Bounded whatever the bus or the store do: nothing acknowledged is lost by ending here, since
    // a message is acknowledged only once stored; what is not stored yet was not acknowledged
    setTimeout(() => {
      node.log.error({ after_ms: SHUTDOWN_BOUND_MS }, 'shutdown did not finish in time: exiting')
      process.exit(1)
    }, SHUTDOWN_BOUND_MS).unref()
    node.close().then(() => process.exit(0), (err: unknown) => {
      node.log.error({ err }, 'error while stopping')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  console.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
