/** emqx_acl_mnesia_api (EMQX v4's built-in database ACL) under /api/v3, plus rules for IP ranges. */
import type { AclAddedWire, AclRuleWire, Ctx, Input } from '../types.js'
import type { AclKind, AclRecord } from '../../store/store.js'
import { parsePage, type Page } from '../paging.js'
import { errors } from '../../core/errors.js'

export const acl = {
  async add_acl ({ body }: Input<'add_acl'>, ctx: Ctx) {
    const stored = (await ctx.acl.add(Array.isArray(body) ? body : [body])).map(withResult)
    return Array.isArray(body) ? stored : stored[0] as AclAddedWire
  },
  async list_acl_clientid ({ query }: Input<'list_acl_clientid'>, ctx: Ctx) { return await list(ctx, 'clientid', query) },
  async list_acl_username ({ query }: Input<'list_acl_username'>, ctx: Ctx) { return await list(ctx, 'username', query) },
  async list_acl_ipaddress ({ query }: Input<'list_acl_ipaddress'>, ctx: Ctx) { return await list(ctx, 'ipaddress', query) },
  async list_acl_all ({ query }: Input<'list_acl_all'>, ctx: Ctx) { return await list(ctx, 'all', query) },
  async lookup_acl_clientid ({ path }: Input<'lookup_acl_clientid'>, ctx: Ctx) {
    return (await ctx.acl.of('clientid', path.clientid)).map(format)
  },
  async lookup_acl_username ({ path }: Input<'lookup_acl_username'>, ctx: Ctx) {
    return (await ctx.acl.of('username', path.username)).map(format)
  },
  async lookup_acl_ipaddress ({ path }: Input<'lookup_acl_ipaddress'>, ctx: Ctx) {
    return (await ctx.acl.of('ipaddress', path.ipaddress)).map(format)
  },
  async delete_acl_clientid ({ path }: Input<'delete_acl_clientid'>, ctx: Ctx) {
    return await remove(ctx, 'clientid', path.clientid, path.topic)
  },
  async delete_acl_username ({ path }: Input<'delete_acl_username'>, ctx: Ctx) {
    return await remove(ctx, 'username', path.username, path.topic)
  },
  async delete_acl_ipaddress ({ path }: Input<'delete_acl_ipaddress'>, ctx: Ctx) {
    return await remove(ctx, 'ipaddress', path.ipaddress, path.topic)
  },
  async delete_acl_all ({ path }: Input<'delete_acl_all'>, ctx: Ctx) {
    return await remove(ctx, 'all', '', path.topic)
  }
}

/** Rules in evaluation order (the store's), paged by `_page`/`_limit`: that order is the point of the list, so no `_sort` */
async function list (ctx: Ctx, kind: AclKind, query: { _page?: number, _limit?: number }): Promise<Page<AclRuleWire>> {
  const rows = await ctx.acl.list(kind)
  const { page, limit } = parsePage(query)
  const items = rows.slice((page - 1) * limit, page * limit).map(format)
  return { items, meta: { count: rows.length, limit, page, hasnext: page * limit < rows.length } }
}

async function remove (ctx: Ctx, kind: AclKind, who: string, topic: string): Promise<'ok'> {
  if (!await ctx.acl.delete(kind, who, topic)) throw errors.notFound('acl_not_found')
  return 'ok'
}

/** EMQX v4's shape: the target under its kind's name, `all: "$all"` for every client */
function format (r: AclRecord): AclRuleWire {
  const rule = { topic: r.topic, action: r.action, access: r.access }
  return r.kind === 'all' ? { all: '$all', ...rule } : { [r.kind]: r.who, ...rule }
}

function withResult (r: AclRecord): AclAddedWire {
  return { ...format(r), result: 'ok' }
}
