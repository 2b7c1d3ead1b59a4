/**
 * The systems under test, each its own process on free loopback ports: our node, bare aedes (in-memory
 * or our SQLite persistence) and Mosquitto (skipped visibly when not installed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, stopChild } from './lib/proc.js'
import { freePort } from '../test/support/ports.js'
import { eventually } from '../test/support/wait.js'

export type SystemName = 'ours' | 'ours-mongo' | 'before' | 'before-mongo' | 'aedes-memory' | 'aedes-sqlite' | 'mosquitto'

export const LABELS: Record<SystemName, string> = {
  ours: 'ours (embedded store)',
  'ours-mongo': 'ours (MongoDB store, FerretDB)',
  before: 'ours before issue 21 (4af3945, embedded store)',
  'before-mongo': 'ours before issue 21 (4af3945, MongoDB store, FerretDB)',
  'aedes-memory': 'bare aedes, in-memory persistence',
  'aedes-sqlite': 'bare aedes, our SQLite persistence',
  mosquitto: 'Mosquitto'
}

export interface System {
  name: SystemName
  pid: number
  mqttPort: number
  /** http://127.0.0.1:<port>/api/v3 for our node */
  api: string | null
  stop (): Promise<void>
}

export interface StartOptions {
  mongoUrl?: string
  /** more environment for our node */
  env?: Record<string, string>
  /** Node-based systems: a full GC on SIGUSR2 (bench/gc-on-signal.cjs), before memory is read */
  gcOnSignal?: boolean
  /** write a V8 CPU profile of our node into this directory when it stops */
  cpuProfDir?: string
  /** Node-based systems: a heap snapshot into this directory on SIGUSR1 (bench/memory.ts) */
  heapSnapshotDir?: string
}

/**
 * A built checkout of the code before issue 21 (commit 4af3945: `git archive 4af3945 | tar -x -C DIR`,
 * then `npm ci` and `npx tsc -p tsconfig.build.json` in DIR), run as a baseline beside ours when
 * BENCH_BEFORE_DIR names it; absent, those columns are left out.
 */
export const BEFORE_DIR = process.env.BENCH_BEFORE_DIR !== undefined && existsSync(join(process.env.BENCH_BEFORE_DIR, 'dist/src/main.js'))
  ? process.env.BENCH_BEFORE_DIR
  : null

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(p => existsSync(p)) ?? null

/** How our node is run: compiled dist/ when it is at least as new as src/, else from the sources with tsx. */
export interface OursRuntime { argv: string[], how: string }

function newest (dir: string): number {
  const out = spawnSync('find', [dir, '-name', '*.ts', '-newer', join(ROOT, 'dist/src/main.js')], { encoding: 'utf8' })
  return out.stdout.trim() === '' ? 0 : out.stdout.trim().split('\n').length
}

/** Builds dist/ when it is stale (type errors do not stop tsc from emitting); falls back to tsx. */
export function prepareOurs (log: (s: string) => void): OursRuntime {
  const main = join(ROOT, 'dist/src/main.js')
  const stale = !existsSync(main) || newest(join(ROOT, 'src')) + newest(join(ROOT, 'generated')) > 0
  if (stale) {
    log('dist/ is older than src/: building (tsc -p tsconfig.build.json)')
    const before = existsSync(main) ? statSync(main).mtimeMs : 0
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' })
    const emitted = existsSync(main) && statSync(main).mtimeMs > before
    if (r.status !== 0) log(`build reported errors${emitted ? ' (output emitted anyway)' : ''}:\n${r.stdout.split('\n').slice(0, 5).join('\n')}`)
    if (!emitted) {
      log('running our node from the sources with tsx instead')
      return { argv: ['--import', 'tsx', 'src/main.ts'], how: 'node --import tsx src/main.ts (dist build failed)' }
    }
    return { argv: ['dist/src/main.js'], how: r.status === 0 ? 'node dist/src/main.js (built by the bench)' : 'node dist/src/main.js (built by the bench, with type errors in the working tree)' }
  }
  return { argv: ['dist/src/main.js'], how: 'node dist/src/main.js' }
}

function portOpen (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

function guard (child: ChildProcess, name: string): () => void {
  const onExit = (code: number | null, signal: string | null): void => {
    console.error(`!! ${name} exited unexpectedly (${code ?? signal})`)
  }
  child.once('exit', onExit)
  return () => { child.off('exit', onExit) }
}

const profFlags = (opts: StartOptions, name: SystemName): string[] =>
  opts.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(opts.cpuProfDir, name)}`]
const gcFlags = (opts: StartOptions): string[] => [
  ...opts.gcOnSignal === true ? ['--expose-gc', '--require', join(ROOT, 'bench/gc-on-signal.cjs')] : [],
  ...opts.heapSnapshotDir === undefined ? [] : ['--require', join(ROOT, 'bench/heap-on-signal.cjs')]
]

async function startOurs (name: SystemName, runtime: OursRuntime, opts: StartOptions, cwd = ROOT): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ours-'))
  const [mqttPort, apiPort] = [await freePort(), await freePort()]
  const flags = [...profFlags(opts, name), ...gcFlags(opts)]
  const env: Record<string, string | undefined> = {
    ...process.env,
    MQTT_PORT: String(mqttPort),
    API_PORT: String(apiPort),
    MQTT_WS_PORT: 'off',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: undefined,
    BENCH_HEAP_DIR: opts.heapSnapshotDir
  }
  if ((name === 'ours-mongo' || name === 'before-mongo') && opts.mongoUrl !== undefined) env.MONGODB_URL = opts.mongoUrl
  Object.assign(env, opts.env)
  const child = spawn(process.execPath, [...flags, ...runtime.argv], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdout?.pipe(createWriteStream(join(dir, 'stdout.log')))
  const unguard = guard(child, name)
  const api = `http://127.0.0.1:${apiPort}/api/v3`
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited at start (code ${child.exitCode}); its log: ${join(dir, 'stdout.log')}`)
    return (await fetch(`http://127.0.0.1:${apiPort}/status`)).ok
  }, { timeoutMs: 60000, intervalMs: 100, what: `${name} to answer /status`, giveUpOn: () => child.exitCode !== null })
  return {
    name,
    pid: child.pid as number,
    mqttPort,
    api,
    async stop () {
      unguard()
      await stopChild(child, 20000)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

async function startBareAedes (name: SystemName, persistence: 'memory' | 'sqlite', opts: StartOptions): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-aedes-'))
  // profiled too, so a profile of ours can be read against the same code without the management layer
  // (one directory per system: the tsx loader thread writes a profile of its own)
  const flags = [...profFlags(opts, name), ...gcFlags(opts)]
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'bench/bare-aedes.ts'], {
    cwd: ROOT,
    env: { ...process.env, BENCH_PERSISTENCE: persistence, BENCH_DATA_DIR: dir, BENCH_PORT: '0', NODE_OPTIONS: undefined, BENCH_HEAP_DIR: opts.heapSnapshotDir, ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const unguard = guard(child, name)
  const port = await new Promise<number>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 30000)
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      const m = /\{"ready":(\d+)\}/.exec(buf)
      if (m !== null) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`${name} exited at start`)) })
  })
  return {
    name,
    pid: child.pid as number,
    mqttPort: port,
    api: null,
    async stop () {
      unguard()
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

async function startMosquitto (): Promise<System> {
  if (MOSQUITTO === null) throw new Error('mosquitto is not installed')
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'))
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    // queued QoS 1 messages for offline persistent sessions: no cap (the store scenario queues thousands)
    'max_queued_messages 0',
    'max_connections -1',
    'log_dest stderr',
    'log_type error',
    // every system runs with TCP_NODELAY, our node's default (EMQ X's listener.tcp.external.nodelay = true)
    'set_tcp_nodelay true',
    ''
  ].join('\n'))
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] })
  const unguard = guard(child, 'mosquitto')
  await eventually(() => portOpen(port), { timeoutMs: 15000, intervalMs: 100, what: 'mosquitto to listen' })
  return {
    name: 'mosquitto',
    pid: child.pid as number,
    mqttPort: port,
    api: null,
    async stop () {
      unguard()
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export async function startSystem (name: SystemName, runtime: OursRuntime, opts: StartOptions = {}): Promise<System> {
  switch (name) {
    case 'ours': return startOurs(name, runtime, opts)
    case 'ours-mongo':
      if (opts.mongoUrl === undefined) throw new Error('ours-mongo needs a MongoDB URL')
      return startOurs(name, runtime, opts)
    case 'before':
    case 'before-mongo':
      if (BEFORE_DIR === null) throw new Error('BENCH_BEFORE_DIR does not name a built checkout of 4af3945')
      if (name === 'before-mongo' && opts.mongoUrl === undefined) throw new Error('before-mongo needs a MongoDB URL')
      return startOurs(name, { argv: ['dist/src/main.js'], how: 'node dist/src/main.js' }, opts, BEFORE_DIR)
    case 'aedes-memory': return startBareAedes(name, 'memory', opts)
    case 'aedes-sqlite': return startBareAedes(name, 'sqlite', opts)
    case 'mosquitto': return startMosquitto()
  }
}

export function mosquittoVersion (): string | null {
  if (MOSQUITTO === null) return null
  const r = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' })
  const m = /mosquitto version (\S+)/.exec(r.stdout + r.stderr)
  return m?.[1] ?? 'unknown'
}

export interface MongoServer { url: string, stop (): Promise<void> }

/** FerretDB via scripts/ferretdb.sh (built once, needs Go), or null with the reason. */
export async function startFerret (log: (s: string) => void): Promise<MongoServer | { skipped: string }> {
  const script = join(ROOT, 'scripts/ferretdb.sh')
  const build = spawnSync(script, ['build'], { cwd: ROOT, encoding: 'utf8', timeout: 15 * 60_000 })
  if (build.status !== 0) return { skipped: `FerretDB could not be built (${(build.stderr || build.stdout).trim().split('\n').pop() ?? 'no output'})` }
  const dir = mkdtempSync(join(tmpdir(), 'bench-ferret-'))
  const port = await freePort()
  const start = spawnSync(script, ['start', String(port), dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  if (start.status !== 0) return { skipped: `FerretDB did not start: ${(start.stderr || start.stdout).trim()}` }
  log(`FerretDB on 127.0.0.1:${port}`)
  return {
    url: `mongodb://127.0.0.1:${port}/bench_${Date.now()}`,
    async stop () {
      spawnSync(script, ['stop', dir], { cwd: ROOT })
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
