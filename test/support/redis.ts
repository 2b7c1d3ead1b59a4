/** A throwaway redis-server on a free loopback port: the cluster bus of the cluster tests and the bench. */
import { spawn, spawnSync } from 'node:child_process'
import { createConnection } from 'node:net'
import { freePort } from './ports.js'
import { eventually } from './wait.js'

export const HAS_REDIS = spawnSync('redis-server', ['--version']).status === 0

export interface Redis { url: string, stop (): void }

/** No persistence, killed by stop(); resolves once it accepts connections. */
export async function startRedis (): Promise<Redis> {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' })
  const stop = (): void => { child.kill('SIGKILL') }
  try {
    await eventually(() => new Promise<boolean>(resolve => {
      const s = createConnection(port, '127.0.0.1', () => { s.end(); resolve(true) }).on('error', () => resolve(false))
    }), { timeoutMs: 5000, what: `redis-server on port ${port}` })
  } catch (err) {
    stop()
    throw err
  }
  return { url: `redis://127.0.0.1:${port}`, stop }
}
