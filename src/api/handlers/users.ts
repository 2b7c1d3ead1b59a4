/** emqx_dashboard_api: dashboard users, passwords kept as salted scrypt hashes (UsersService). */
import type { Ctx, Input } from '../types.js'
import { errors } from '../../core/errors.js'
import { like, sortedList, type ListOrder } from '../query.js'

interface UserRow { username: string, tags: string, role: string }
const USER_ORDER: ListOrder<UserRow> = { order: ['username'], sortable: ['username', 'tags', 'role'] }

export const users = {
  async list_users ({ query }: Input<'list_users'>, ctx: Ctx) {
    const rows = like(await ctx.users.list(), query._like_name, u => u.username).map(u => ({ username: u.username, tags: u.tags, role: u.role }))
    return sortedList(rows, query, USER_ORDER)
  },
  async create_user ({ body }: Input<'create_user'>, ctx: Ctx) {
    await ctx.users.create(body)
    return 'ok' as const
  },
  async update_user ({ path, body }: Input<'update_user'>, ctx: Ctx) {
    await ctx.users.update(path.name, body)
    return 'ok' as const
  },
  async delete_user ({ path }: Input<'delete_user'>, ctx: Ctx) {
    await ctx.users.delete(path.name)
    return 'ok' as const
  },
  async change_pwd ({ path, body }: Input<'change_pwd'>, ctx: Ctx) {
    await ctx.users.changePassword(path.username, body.old_pwd, body.new_pwd)
    return 'ok' as const
  },
  async auth_user ({ body }: Input<'auth_user'>, ctx: Ctx) {
    if (!await ctx.users.verify(body.username, body.password)) throw errors.unauthorized()
    return 'ok' as const
  }
}
