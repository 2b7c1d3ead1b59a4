/**
 * What startBroker returns: the handle the node, the cluster and the plugins drive. Its own module
 * (not types.ts) because it names the Registry class, and registry.ts needs the shapes in types.ts.
 */
import type { Metrics } from './metrics.js'
import type { Registry } from './registry.js'
import type { ListenerInfo, ListenerProtocol, OnBehalf, PublishRequest, QoS, SessionMessage } from './types.js'

export interface Broker {
  readonly aedes: unknown
  readonly nodeName: string
  readonly ports: { mqtt: number, ws: number | null, tls: number | null }
  readonly registry: Registry
  readonly metrics: Metrics
  listeners (): ListenerInfo[]
  /** `reason` is the connection's close reason (default kicked; banned for a new ban) */
  kickout (clientId: string, reason?: string): boolean
  /** kicks the client if it is connected here, then removes its session (registry and persistence); false when this node has neither */
  discardSession (clientId: string): Promise<boolean>
  publish (msg: PublishRequest): Promise<void>
  /** what the session store holds for the client, in queue order; null when this node has no session of it */
  sessionMessages (clientId: string): Promise<SessionMessage[] | null>
  /** false when `reach` does not reach the client (default: connected here) */
  subscribe (clientId: string, filters: string[], qos: QoS, reach?: OnBehalf): Promise<boolean>
  /** `offline`: also an offline persistent session here */
  unsubscribe (clientId: string, filters: string[], offline?: boolean): Promise<boolean>
  /** forgets a client's cached decisions on `topic` (every one when absent); false when it is not connected */
  cleanAclCache (clientId: string, topic?: string): boolean
  /** forgets every client's cached decisions (the rules changed) */
  cleanAllAclCaches (): void
  /** changes a listener's max_conns at once (existing connections stay); false when there is none */
  setMaxConns (protocol: ListenerProtocol, maxConns: number): boolean
  /** TCP_NODELAY for a listener's new connections; false when there is no such listener */
  setNoDelay (protocol: ListenerProtocol, on: boolean): boolean
  close (): Promise<void>
}
