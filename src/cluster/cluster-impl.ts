/** The cluster as the API sees it: this node (LocalNode) and its live peers (RemoteNode), by name. */
import { errors } from '../core/errors.js'
import { datetime, uptime } from '../core/format.js'
import type { BrokerInfoWire, NodeInfoWire } from '../core/wire.js'
import type { MemberRecord } from '../store/store.js'
import { SYSDESCR } from './local-node.js'
import { isBadRpc, type Cluster, type MemberView, type NodeApi } from './cluster.js'
import type { Membership } from './membership.js'
import { RemoteNode } from './remote-node.js'

export class ClusterImpl implements Cluster {
  /** one RemoteNode per (name, API URL): rebuilt when a node comes back elsewhere */
  private readonly remotes = new Map<string, RemoteNode>()

  constructor (private readonly local: NodeApi, private readonly membership: Membership, private readonly secret: string) {}

  get self (): string { return this.local.name }

  private remote (m: MemberRecord): RemoteNode {
    let r = this.remotes.get(m.name)
    if (r === undefined || r.apiUrl !== m.apiUrl) {
      r = new RemoteNode(m.name, m.apiUrl, this.secret)
      this.remotes.set(m.name, r)
    }
    return r
  }

  private api (m: MemberRecord): NodeApi {
    return m.name === this.local.name ? this.local : this.remote(m)
  }

  async nodes (): Promise<NodeApi[]> {
    return this.membership.live().map(m => this.api(m))
  }

  /** live peers only (not this node) */
  async peers (): Promise<RemoteNode[]> {
    return this.membership.live().filter(m => m.name !== this.local.name).map(m => this.remote(m))
  }

  async node (name: string): Promise<NodeApi> {
    const m = this.membership.live().find(x => x.name === name)
    if (m === undefined) throw errors.notFound('node_not_found')
    return this.api(m)
  }

  async members (): Promise<MemberView[]> {
    const now = Date.now()
    return this.membership.all().map(m => {
      if (!this.membership.isLive(m, now)) return stoppedView(m)
      const api = this.api(m)
      // a peer that stopped answering shows as stopped rather than failing the whole list
      const orStopped = async <T>(call: () => Promise<T>, stopped: () => Promise<T>): Promise<T> => {
        try {
          return await call()
        } catch (err) {
          if (isBadRpc(err)) return await stopped()
          throw err
        }
      }
      const view = stoppedView(m)
      return {
        name: m.name,
        brokerInfo: async () => await orStopped(async () => await api.brokerInfo(), view.brokerInfo),
        nodeInfo: async () => await orStopped(async () => await api.nodeInfo(), view.nodeInfo)
      }
    })
  }
}

/** A stopped node as last known: its version, runtime and uptime at its last heartbeat; live figures zero. */
export function stoppedView (m: MemberRecord): MemberView {
  const lastUptime = uptime(Math.max(0, m.heartbeatAt - m.startedAt) / 1000)
  return {
    name: m.name,
    async brokerInfo (): Promise<BrokerInfoWire> {
      return {
        datetime: datetime(m.heartbeatAt),
        node_status: 'Stopped',
        otp_release: m.otpRelease,
        sysdescr: SYSDESCR,
        uptime: lastUptime,
        version: m.version
      }
    },
    async nodeInfo (): Promise<NodeInfoWire> {
      return {
        connections: 0,
        load1: '0.00',
        load5: '0.00',
        load15: '0.00',
        max_fds: 0,
        memory_total: 0,
        memory_used: 0,
        name: m.name,
        node_status: 'Stopped',
        otp_release: m.otpRelease,
        process_available: 0,
        process_used: 0,
        uptime: lastUptime,
        version: m.version
      }
    }
  }
}
