/**
 * The node's health for operators and orchestrators (GET /status, /status/live, /status/ready):
 * its lifecycle state, the store, each listener, cluster membership and the active alarms.
 * Ready means "send traffic here": running (not starting, not draining) and the store answers.
 */
import type { AlarmWire } from '../core/wire.js'
import type { StoreHealth } from './store-health.js'

export type NodeState = 'starting' | 'running' | 'draining'

export interface HealthListener { protocol: string, listen_on: string, listening: boolean, current_conns: number, max_conns: number }

export interface HealthSources {
  node: string
  version: string
  storeKind: string
  store: Pick<StoreHealth, 'check'>
  listeners: () => HealthListener[]
  /** null when clustering is off; otherwise every known member and whether it is live */
  members: (() => Promise<Array<{ name: string, live: boolean }>>) | null
  alarms: () => AlarmWire[]
}

export interface HealthAnswer { code: number, body: Record<string, unknown> }

export class Health {
  private current: NodeState = 'starting'

  constructor (private readonly src: HealthSources) {}

  get state (): NodeState { return this.current }

  set state (s: NodeState) { this.current = s }

  /** GET /status as it always was: 503 while the store cannot be reached */
  async status (): Promise<HealthAnswer> {
    const ok = await this.src.store.check()
    return { code: ok ? 200 : 503, body: { node: this.src.node, status: 'running', store: ok ? 'ok' : 'unavailable' } }
  }

  /** GET /status?format=json: the same fields, the same code, and the state of every part */
  async report (): Promise<HealthAnswer> {
    const base = await this.status()
    const storeOk = base.code === 200
    const listeners = this.src.listeners()
    const members = this.src.members === null ? null : await this.src.members()
    const alarms = this.src.alarms()
    return {
      code: base.code,
      body: {
        ...base.body,
        // EMQX v5's fields of /status?format=json
        rel_vsn: this.src.version,
        broker_status: this.current === 'running' ? 'started' : this.current,
        app_status: storeOk ? 'running' : 'degraded',
        state: this.current,
        ready: storeOk && this.current === 'running',
        parts: {
          store: { kind: this.src.storeKind, status: storeOk ? 'ok' : 'unavailable' },
          listeners: listeners.map(l => ({ ...l, status: l.listening ? 'up' : 'down' })),
          cluster: members === null
            ? { enabled: false, status: 'ok', members: [] }
            : {
                enabled: true,
                status: members.some(m => m.name === this.src.node && m.live) ? 'ok' : 'not_joined',
                members: members.map(m => ({ name: m.name, status: m.live ? 'running' : 'stopped' }))
              },
          alarms: { status: alarms.some(a => a.severity === 'critical') ? 'critical' : alarms.length > 0 ? 'warning' : 'ok', active: alarms }
        }
      }
    }
  }

  /** liveness: the process answers; nothing else is asked */
  live (): HealthAnswer {
    return { code: 200, body: { node: this.src.node, status: 'live', state: this.current } }
  }

  /** readiness: 503 while starting, draining or without its store */
  async ready (): Promise<HealthAnswer> {
    const storeOk = this.current === 'draining' ? false : await this.src.store.check()
    const reasons = [
      ...(this.current !== 'running' ? [this.current] : []),
      ...(storeOk || this.current === 'draining' ? [] : ['store_unavailable'])
    ]
    return { code: reasons.length === 0 ? 200 : 503, body: { node: this.src.node, status: reasons.length === 0 ? 'ready' : 'not_ready', state: this.current, reasons } }
  }
}
