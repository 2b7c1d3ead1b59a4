/**
 * ACL rules across the cluster: the node that adds or deletes rules tells its live peers at once
 * (RPC refreshAcl), so a connected client on any node is judged by the new rules from its next
 * PUBLISH or SUBSCRIBE. A peer that missed the call (it did not answer in time) catches up within
 * REFRESH_MS: every node re-reads the rules that often and drops its cached decisions only when they
 * changed.
 */
import { AclService, type AclInput } from '../services/acl.js'
import type { Settings } from '../services/settings.js'
import type { AclKind, AclRecord, Store } from '../store/store.js'
import type { MembershipLog } from './membership.js'
import type { RemoteNode } from './remote-node.js'

const REFRESH_MS = 5000

export class ClusterAclService extends AclService {
  /** set once the cluster exists (the service is created before the broker and the API) */
  peers: () => Promise<RemoteNode[]> = async () => []
  private timer: NodeJS.Timeout | null = null

  constructor (store: Store, settings: Settings, changed: () => void, private readonly log: MembershipLog) {
    super(store, settings, changed)
  }

  override async start (): Promise<void> {
    await super.start()
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => { this.log.warn({ err: String(err) }, 'ACL rules could not be re-read') })
    }, REFRESH_MS)
    this.timer.unref()
  }

  override stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    super.stop()
  }

  override async add (inputs: readonly AclInput[]): Promise<AclRecord[]> {
    const added = await super.add(inputs)
    await this.tellPeers()
    return added
  }

  override async delete (kind: AclKind, who: string, topic: string): Promise<boolean> {
    const gone = await super.delete(kind, who, topic)
    if (gone) await this.tellPeers()
    return gone
  }

  private async tellPeers (): Promise<void> {
    const peers = await this.peers()
    await Promise.all(peers.map(async p => {
      // best effort: a peer that misses this picks the change up within REFRESH_MS
      await p.refreshAcl().catch((err: unknown) => { this.log.warn({ node: p.name, err: String(err) }, 'ACL change not pushed to peer') })
    }))
  }
}
