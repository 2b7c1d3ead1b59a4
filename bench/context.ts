/** What every scenario gets: the mode's sizes, how to run our node, and the load-generator processes. */
import type { Worker } from './lib/proc.js'
import type { OursRuntime } from './systems.js'

export interface Profile {
  /** rounds per measurement; systems alternate within each round */
  rounds: number
  /** rounds for the slow measurements (API endpoints, stores) */
  smallRounds: number
  /** rounds of the connection scenario (a fresh process each; RSS after GC still moves by ± 30 % between them) */
  connectionRounds: number
  warmupMs: number
  durationMs: number
  /** publishes outstanding end to end (closed loop) in the throughput runs */
  window: number
  /** clients in the API scenario */
  connections: number
  /** clients in all at each memory step of the connection scenario (the last also storms our node) */
  connectionSteps: number[]
  /** clients connecting one after another in the connection scenario */
  serialConnects: number
  /** duration of one HTTP measurement */
  httpMs: number
  /** an unrecorded run per system before the rounds (JIT warm-up) */
  warmupRunMs: number
  /** QoS 1 messages queued for an offline session in the store scenario */
  persistentMessages: number
  /** messages per measurement in the cluster scenario */
  clusterMessages: { qos0: number, qos1: number }
}

export const PROFILES: Record<'quick' | 'full', Profile> = {
  quick: { rounds: 2, smallRounds: 1, connectionRounds: 1, warmupMs: 200, durationMs: 500, window: 200, connections: 1000, connectionSteps: [200, 1000], serialConnects: 300, httpMs: 700, persistentMessages: 1000, warmupRunMs: 1000, clusterMessages: { qos0: 2000, qos1: 500 } },
  full: { rounds: 5, smallRounds: 2, connectionRounds: 2, warmupMs: 500, durationMs: 2500, window: 200, connections: 10000, connectionSteps: [1000, 15000], serialConnects: 2000, httpMs: 3000, persistentMessages: 10000, warmupRunMs: 3000, clusterMessages: { qos0: 20000, qos1: 5000 } }
}

export interface Ctx {
  mode: 'quick' | 'full'
  p: Profile
  runtime: OursRuntime
  /** the MQTT load generator */
  mqtt: Worker
  /** a second MQTT load generator that holds idle clients while `mqtt` measures */
  holder: Worker
  http: Worker
  mosquitto: boolean
  log (s: string): void
  /** set when our node should be CPU-profiled (scenario name → directory) */
  cpuProfDir?: string
  /** throughput cases to run (`--cases=qos1-fan-out-64B,...`); all when unset */
  cases?: string[]
}

/** `items` rotated left by `k`: round r starts with a different system, so no one always goes first. */
export function rotate<T> (items: readonly T[], k: number): T[] {
  const n = items.length
  return n === 0 ? [] : items.map((_, i) => items[(i + k) % n] as T)
}

let tagSeq = 0
export function tag (prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${(tagSeq++).toString(36)}`
}
