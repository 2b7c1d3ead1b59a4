/** emqx_mgmt_api_banned, with DECISIONS.md's fixes: IP bans enforced and deletable, 404 on absent. */
import type { Ctx, BannedWire, Input } from '../types.js'
import type { BannedRecord } from '../../store/store.js'
import { like, listPage, type ListOrder } from '../query.js'
import { rowFields } from '../spec.js'
import { errors } from '../../core/errors.js'
import { normalizeIp } from '../../services/banned.js'
import { orUndefined } from '../../core/format.js'

const BANNED_ORDER: ListOrder<BannedWire> = { order: ['as', 'who'], sortable: ['who', 'as', 'until'], fields: rowFields('BannedFields') }

export const banned = {
  async list_banned ({ query }: Input<'list_banned'>, ctx: Ctx) {
    const rows = (await ctx.banned.list()).filter(b => query.as === undefined || b.as === query.as)
    return listPage(like(rows, query._like_who, b => b.who).map(format), query, BANNED_ORDER)
  },
  async create_banned ({ body }: Input<'create_banned'>, ctx: Ctx) {
    let who = body.who
    if (body.as === 'ip_address') {
      who = normalizeIp(body.who) ?? ''
      if (!who) throw errors.badParam(`who must be an IPv4 or IPv6 address when as is ip_address: ${JSON.stringify(body.who)}`)
    }
    if (body.until !== undefined && body.until <= Math.floor(Date.now() / 1000)) throw errors.badParam('until must be in the future (epoch seconds)')
    const entry: BannedRecord = {
      who,
      as: body.as,
      reason: orUndefined(body.reason),
      desc: orUndefined(body.desc),
      by: orUndefined(body.by),
      until: body.until ?? null,
      createdAt: Date.now()
    }
    return format(await ctx.banned.create(entry))
  },
  async delete_banned ({ path, query }: Input<'delete_banned'>, ctx: Ctx) {
    if (!await ctx.banned.delete(query.as, path.who)) throw errors.notFound('banned_not_found')
    return 'ok' as const
  }
}

function format (b: BannedRecord): BannedWire {
  const out: BannedWire = { who: b.who, as: b.as, reason: b.reason, desc: b.desc, by: b.by }
  if (b.until !== null) out.until = b.until
  return out
}
