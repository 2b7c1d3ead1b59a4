/** emqx_mgmt_api_apps: API credentials; the secret is shown once, at creation (AppsService). */
import type { Ctx, AppWire, Input } from '../types.js'
import type { AppRecord } from '../../store/store.js'
import { like, sortedList, type ListOrder } from '../query.js'

const APP_ORDER: ListOrder<AppWire> = { order: ['app_id'], sortable: ['app_id', 'name', 'status', 'expired', 'role'] }

export const apps = {
  async list_apps ({ query }: Input<'list_apps'>, ctx: Ctx) {
    return sortedList(like(await ctx.apps.list(), query._like_name, a => a.name).map(format), query, APP_ORDER)
  },
  async add_app ({ body }: Input<'add_app'>, ctx: Ctx) {
    const { app, secret } = await ctx.apps.create(body)
    return { ...format(app), secret }
  },
  async lookup_app ({ path }: Input<'lookup_app'>, ctx: Ctx) {
    return format(await ctx.apps.get(path.appid))
  },
  async update_app ({ path, body }: Input<'update_app'>, ctx: Ctx) {
    await ctx.apps.update(path.appid, body)
    return 'ok' as const
  },
  async del_app ({ path }: Input<'del_app'>, ctx: Ctx) {
    await ctx.apps.delete(path.appid)
    return 'ok' as const
  }
}

function format (a: AppRecord): AppWire {
  const out: AppWire = { app_id: a.app_id, name: a.name, desc: a.desc, status: a.status, role: a.role }
  if (a.expired !== null) out.expired = a.expired
  return out
}
