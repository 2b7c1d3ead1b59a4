/** GET /audit: the audit log (src/services/audit.ts), newest first, filtered in the store. */
import type { AuditEntryWire, Ctx, Input } from '../types.js'
import type { AuditFilter, AuditRecord } from '../../store/store.js'
import { parsePage } from '../paging.js'
import { datetime } from '../../core/format.js'

export const audit = {
  async list_audit ({ query }: Input<'list_audit'>, ctx: Ctx) {
    const { page, limit } = parsePage(query)
    const filter: AuditFilter = {}
    if (query.actor !== undefined) filter.actor = query.actor
    if (query.operation !== undefined) filter.operation = query.operation
    if (query.status !== undefined) filter.status = query.status
    if (query._gte_time !== undefined) filter.fromMs = query._gte_time
    if (query._lte_time !== undefined) filter.toMs = query._lte_time
    const { count, items } = await ctx.audit.list(filter, page, limit)
    return { items: items.map(format), meta: { count, limit, page } }
  }
}

function format (r: AuditRecord): AuditEntryWire {
  return {
    time: datetime(r.timestamp),
    timestamp: r.timestamp,
    node: r.node,
    event: r.event,
    actor: r.actor,
    role: r.role,
    source_ip: r.sourceIp,
    method: r.method as AuditEntryWire['method'],
    operation: r.operation,
    path_params: r.pathParams,
    body: r.body,
    status: r.status
  }
}
