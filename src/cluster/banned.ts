/**
 * Bans across the cluster: the node that creates or deletes a ban tells its live peers at once
 * (RPC refreshBans) instead of leaving them to their 3-second store refresh, so a new ban refuses
 * CONNECTs and disconnects matching clients on every node immediately.
 */
import { BannedService, type ClientIdentity } from '../services/banned.js'
import type { BannedKind, BannedRecord, Store } from '../store/store.js'
import type { MembershipLog } from './membership.js'
import type { RemoteNode } from './remote-node.js'

type Kick = (matches: (c: ClientIdentity) => boolean) => Promise<void>

/** how often a failed snapshot refresh is retried (BannedService's own period) */
const RETRY_MS = 3000

export class ClusterBannedService extends BannedService {
  /** set once the cluster exists (the service is created before the broker and the API) */
  peers: () => Promise<RemoteNode[]> = async () => []
  private closed = false

  constructor (store: Store, private readonly kickLocal: Kick, private readonly log: MembershipLog) {
    super(store, kickLocal)
  }

  override async create (entry: BannedRecord): Promise<BannedRecord> {
    const created = await super.create(entry)
    await this.tellPeers()
    return created
  }

  override async delete (as: BannedKind, who: string): Promise<boolean> {
    const gone = await super.delete(as, who)
    await this.tellPeers()
    return gone
  }

  override stop (): void {
    this.closed = true
    super.stop()
  }

  /** A peer changed the bans: re-read them now and disconnect the clients here they match. */
  async refreshFromPeer (): Promise<void> {
    // start() re-reads the store before it schedules the periodic refresh again
    super.stop()
    await this.restart()
    await this.kickLocal(c => this.isBanned(c))
  }

  private async restart (): Promise<void> {
    if (this.closed) return
    try {
      await this.start()
    } catch (err) {
      // without a successful start() there is no periodic refresh: keep trying
      setTimeout(() => { this.restart().catch(() => {}) }, RETRY_MS).unref()
      throw err
    }
  }

  private async tellPeers (): Promise<void> {
    const peers = await this.peers()
    await Promise.all(peers.map(async p => {
      // best effort: a peer that misses this still picks the change up within 3 s
      await p.refreshBans().catch((err: unknown) => { this.log.warn({ node: p.name, err: String(err) }, 'ban not pushed to peer') })
    }))
  }
}
