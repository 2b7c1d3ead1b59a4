/** Loopback ports for servers that must be told their port before they start (child processes, nginx, redis). */
import { createServer } from 'node:net'

/** A port that was free a moment ago: the OS picks it, the probe closes it again. */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    }).on('error', reject)
  })
}
