// A server as a real process (src/main.ts) for restart, crash and fault tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from './support/ports.js'
import { eventually } from './support/wait.js'

export interface Proc { child: ChildProcess, api: string, mqtt: string }

export async function startProcess (env: Record<string, string>): Promise<Proc> {
  const [mqttPort, apiPort] = [await freePort(), await freePort()]
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, MQTT_PORT: String(mqttPort), MQTT_WS_PORT: 'off', API_PORT: String(apiPort), HOST: '127.0.0.1', LOG_LEVEL: process.env.TEST_PROC_LOG_LEVEL ?? 'warn' },
    // TEST_PROC_LOG_LEVEL=info (say): the process' own log on stdout too, to see what it did
    stdio: ['ignore', process.env.TEST_PROC_LOG_LEVEL !== undefined ? 'inherit' : 'ignore', 'inherit']
  })
  const api = `http://127.0.0.1:${apiPort}/api/v3`
  await eventually(async () => (await fetch(api.replace('/api/v3', '/status'))).ok, 30000)
  return { child, api, mqtt: `mqtt://127.0.0.1:${mqttPort}` }
}

export async function stop (p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode
  const exited = new Promise<number | null>(resolve => p.child.once('exit', code => resolve(code)))
  p.child.kill(signal)
  return exited
}

export async function call (p: Proc, method: string, path: string, body?: unknown, auth = 'admin:public'): Promise<{ status: number, body: any }> {
  const headers: Record<string, string> = { authorization: 'Basic ' + Buffer.from(auth).toString('base64') }
  if (body !== undefined) headers['content-type'] = 'application/json'
  // bounded: a node that stops answering fails the test that asked, not the whole file's timeout
  const signal = AbortSignal.timeout(60000)
  const res = await fetch(p.api + path, body === undefined ? { method, headers, signal } : { method, headers, body: JSON.stringify(body), signal })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

/** The stores a process test runs against: always the embedded one, MongoDB when a test server is given. */
export function processStores (tag: string): Array<{ name: string, env: Record<string, string> }> {
  const stores = [{ name: 'embedded', env: {} as Record<string, string> }]
  const url = process.env.MONGODB_TEST_URL
  if (url) stores.push({ name: 'mongodb', env: { MONGODB_URL: `${url.replace(/\/?$/, '/')}${tag}_${process.pid}_${Date.now()}` } })
  return stores
}
