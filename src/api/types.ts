/** The API layer's own types: the generated handler interface, and the context every handler gets. */
import type { Cluster } from '../cluster/cluster.js'
import type { Store } from '../store/store.js'
import type { BannedService } from '../services/banned.js'
import type { AclService } from '../services/acl.js'
import type { UsersService } from '../services/users.js'
import type { AppsService } from '../services/apps.js'
import type { PublishMessage } from '../services/publish.js'
import type { AuditLog } from '../services/audit.js'
import type { AlarmHistory } from '../services/alarm-history.js'
import type { LiveEvents } from '../services/events.js'
import type { DataTransfer } from '../services/data-transfer.js'

export type * from '../core/wire.js'
export type { Handlers, Input, Reply, RawReply } from '../../generated/handlers.js'
export type { OperationId, OperationEntry } from '../../generated/operations.js'

export interface Ctx {
  cluster: Cluster
  store: Store
  banned: BannedService
  acl: AclService
  users: UsersService
  apps: AppsService
  publish: (msg: PublishMessage) => Promise<void>
  audit: AuditLog
  alarmHistory: AlarmHistory
  events: LiveEvents
  dataTransfer: DataTransfer
}
