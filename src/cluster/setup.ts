/**
 * Clustering for one node, in the order src/node.ts needs it: before the broker (bus, name
 * claimed, bans), once the broker and LocalNode exist (the Cluster, takeover cleanup, the RPC
 * route), once the API listens (advertise, heartbeat), and at close (leave).
 *
 * What is shared: MongoDB holds every stored thing (store) and the MQTT sessions
 * (aedes-persistence-mongodb); Redis carries messages between the aedes instances (bus.ts).
 * What is per node: live connections, and the session entries the registry lists. A persistent
 * session is listed by one node: the one its client is connected to or was last connected to; a
 * node that starts, or the first live node when another dies, lists the stored sessions no live
 * node lists (so they stay visible until their clients return).
 */
import { hostname } from 'node:os'
import type { Router } from 'express'
import type { Broker } from '../broker/handle.js'
import type { StoredSession } from '../broker/stored-sessions.js'
import type { ClientIdentity } from '../services/banned.js'
import type { Settings } from '../services/settings.js'
import type { Store } from '../store/store.js'
import type { Cluster, NodeApi } from './cluster.js'
import type { ClusterConfig } from './config.js'
import { ClusterBannedService } from './banned.js'
import { ClusterAclService } from './acl.js'
import { openBus, type Bus } from './bus.js'
import { RedisSharedBus } from './shared-bus.js'
import { ClusterImpl } from './cluster-impl.js'
import { Membership, type MembershipLog } from './membership.js'
import { RemoteNode } from './remote-node.js'
import { rpcRouter } from './rpc.js'

export interface ClusterStart {
  config: ClusterConfig
  nodeName: string
  host: string
  apiPort: number
  version: string
  startedAt: number
  store: Store
  log: MembershipLog
}

type Stored = () => Promise<StoredSession[]>

/** when a peer's client connects here, aedes there closes it; its offline entry is dropped after */
const TAKEOVER_RECHECK_MS = [500, 2000]

function advertiseUrl (config: ClusterConfig, host: string, apiPort: number): string {
  if (config.advertiseUrl !== null) return config.advertiseUrl
  const h = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host
  return `http://${h.includes(':') ? `[${h}]` : h}:${apiPort}`
}

export class Clustering {
  private cluster: ClusterImpl | null = null
  private bannedService: ClusterBannedService | null = null
  private aclService: ClusterAclService | null = null
  private timers = new Set<NodeJS.Timeout>()
  private stopped = false

  private constructor (private readonly s: ClusterStart, readonly bus: Bus, private readonly membership: Membership) {}

  /** Connects the bus and claims the node name; refuses (throws) when either fails. */
  static async open (s: ClusterStart): Promise<Clustering> {
    if (s.store.kind !== 'mongo') throw new Error('a cluster needs MONGODB_URL: its nodes share their state through MongoDB')
    const bus = await openBus(s.config.busUrl, s.log)
    const membership = new Membership(s.store, {
      name: s.nodeName,
      apiUrl: advertiseUrl(s.config, s.host, s.apiPort),
      version: s.version,
      startedAt: s.startedAt
    }, s.log)
    try {
      await membership.join()
    } catch (err) {
      await new Promise<void>(resolve => bus.close(resolve))
      throw err
    }
    // heartbeat from now on: starting the broker and the API may take longer than STALE_MS
    membership.start()
    s.log.info({ node: s.nodeName, members: membership.live().map(m => m.name) }, 'joined the cluster')
    return new Clustering(s, bus, membership)
  }

  /** The BannedService of a clustered node: pushes ban changes to the peers. */
  banned (kick: (matches: (c: ClientIdentity) => boolean) => Promise<void>): ClusterBannedService {
    this.bannedService = new ClusterBannedService(this.s.store, kick, this.s.log)
    this.bannedService.peers = async () => this.livePeers()
    return this.bannedService
  }

  /** The AclService of a clustered node: pushes rule changes to the peers, re-reads them periodically. */
  acl (settings: Settings, changed: () => void): ClusterAclService {
    this.aclService = new ClusterAclService(this.s.store, settings, changed, this.s.log)
    this.aclService.peers = async () => this.livePeers()
    return this.aclService
  }

  private livePeers (): RemoteNode[] {
    return this.membership.live().filter(m => m.name !== this.s.nodeName).map(m => new RemoteNode(m.name, m.apiUrl, this.s.config.secret))
  }

  /** The stored sessions this node should list at start: those no live peer lists already. */
  storedSessions (stored: Stored): Stored {
    return async () => await this.unheld(await stored(), this.livePeers())
  }

  private async unheld (stored: StoredSession[], peers: NodeApi[]): Promise<StoredSession[]> {
    const held = new Set<string>()
    const lists = await Promise.allSettled(peers.map(async p => await p.sessions()))
    for (const l of lists) if (l.status === 'fulfilled') for (const s of l.value) held.add(s.client_id)
    return stored.filter(s => !held.has(s.clientId))
  }

  /** Shared subscription groups over the cluster: a stopped node's members leave, its messages in flight are sent again. */
  async sharedBus (): Promise<RedisSharedBus> {
    const b = await RedisSharedBus.open(this.bus, this.s.nodeName, this.s.log)
    this.membership.onChange((_live, gone) => { if (gone.length > 0) b.nodesGone(gone.map(m => m.name)) })
    return b
  }

  /** Told of the names of the live members after every heartbeat, and of those that stopped since the last. */
  onMembers (fn: (live: string[], gone: string[]) => void): void {
    this.membership.onChange((live, gone) => { fn(live.map(m => m.name), gone.map(m => m.name)) })
  }

  /** The Cluster the API answers from, and the RPC route peers call. */
  attach (local: NodeApi, broker: Broker, stored: Stored): { cluster: Cluster, internal: Router } {
    const cluster = new ClusterImpl(local, this.membership, this.s.config.secret)
    this.cluster = cluster
    this.watchTakeovers(broker)
    this.membership.onChange((live, gone) => {
      // the first live node by name lists what a stopped node listed, until those clients return
      if (gone.length > 0 && live[0]?.name === this.s.nodeName) {
        this.adoptOrphans(broker, stored).catch((err: unknown) => { this.s.log.warn({ err: String(err) }, 'adopting sessions failed') })
      }
    })
    const banned = this.bannedService
    const acl = this.aclService
    const internal = rpcRouter(local, {
      refreshBans: async () => { await banned?.refreshFromPeer() },
      refreshAcl: async () => { await acl?.refresh() }
    }, this.s.config.secret)
    return { cluster, internal }
  }

  /** aedes tells every node of a new connection (`$SYS/<broker>/new/clients`); the session moved there. */
  private watchTakeovers (broker: Broker): void {
    const aedes = broker.aedes as { id: string, mq: { on: (topic: string, fn: (packet: { topic: string, payload: Buffer }, done: () => void) => void) => void } }
    const dropOffline = (clientId: string): void => {
      const s = broker.registry.liveSession(clientId)
      if (s !== undefined && !s.connected) broker.registry.dropSession(clientId)
    }
    aedes.mq.on('$SYS/+/new/clients', (packet, done) => {
      const from = packet.topic.split('/')[1]
      if (from !== aedes.id) {
        const clientId = Buffer.from(packet.payload).toString('utf8')
        dropOffline(clientId)
        for (const ms of TAKEOVER_RECHECK_MS) {
          const t = setTimeout(() => { this.timers.delete(t); dropOffline(clientId) }, ms)
          t.unref()
          this.timers.add(t)
        }
      }
      done()
    })
  }

  private async adoptOrphans (broker: Broker, stored: Stored): Promise<void> {
    const cluster = this.cluster
    if (cluster === null) return
    const orphans = await this.unheld(await stored(), await cluster.peers())
    const now = Date.now()
    for (const s of orphans) {
      if (broker.registry.session(s.clientId) === undefined) broker.registry.restoreOffline(s.clientId, s.subscriptions, s.queued, now)
    }
  }

  /** The API listens: advertise its real address when it was not known before (API_PORT=0). */
  async start (apiPort: number): Promise<void> {
    if (this.s.config.advertiseUrl === null && apiPort !== this.s.apiPort) await this.membership.advertise(advertiseUrl(this.s.config, this.s.host, apiPort))
  }

  /** Leaves the cluster (peers stop asking this node at once), once. The bus is closed by aedes. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    await this.membership.leave()
  }

  /** Leaves, and closes the bus: for a start that failed after open() (a no-op for a bus aedes closed). */
  async abort (): Promise<void> {
    await this.stop()
    await new Promise<void>(resolve => this.bus.close(resolve))
  }
}
