/** Child processes for the benchmark: RSS, CPU, write syscalls, stopping, and IPC workers (ports and polling: test/support/). */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status)
  return m === null ? NaN : Number(m[1]) * 1024
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
export function cpuMsOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks * 10 // USER_HZ = 100 on Linux
}

/** Write syscalls (write, writev, send…) a process has made, from /proc/<pid>/io (`syscw`). */
export function writeCallsOf (pid: number): number {
  const m = /^syscw:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  return m === null ? NaN : Number(m[1])
}

export async function stopChild (child: ChildProcess, timeoutMs = 10000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
}

interface Reply { id: number, ok: boolean, result?: unknown, error?: string }

/** A long-lived load-generator child (bench/workers/*.ts) driven over IPC, one job at a time. */
export class Worker {
  readonly child: ChildProcess
  #next = 1
  #waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()

  constructor (script: string, readonly name: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    this.child.on('message', (m: Reply) => {
      const w = this.#waiting.get(m.id)
      if (w === undefined) return
      this.#waiting.delete(m.id)
      if (m.ok) w.resolve(m.result)
      else w.reject(new Error(`${name}: ${m.error ?? 'failed'}`))
    })
    this.child.on('exit', (code, signal) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal})`))
      this.#waiting.clear()
    })
  }

  get pid (): number { return this.child.pid ?? -1 }

  call<T> (job: object): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ id, job })
    })
  }

  async stop (): Promise<void> {
    if (this.child.connected) this.child.disconnect()
    await stopChild(this.child, 5000)
  }
}

/** Worker side: answers each IPC job with its handler's result. */
export function serveJobs (handle: (job: { kind: string } & Record<string, unknown>) => Promise<unknown>): void {
  process.on('message', (m: { id: number, job: { kind: string } & Record<string, unknown> }) => {
    handle(m.job).then(
      (result) => process.send?.({ id: m.id, ok: true, result }),
      (err: unknown) => process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) })
    )
  })
  process.on('disconnect', () => process.exit(0))
}
