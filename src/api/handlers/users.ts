/** emqx_dashboard_api: dashboard users, passwords kept as salted scrypt hashes. */
import type { Ctx, Input } from '../types.js'
import { errors, ReturnCode } from '../../core/errors.js'
import { DUMMY_HASH, hashSecret, verifySecret } from '../../services/secrets.js'
import { DEFAULT_ADMIN } from '../../services/users.js'

export const users = {
  async list_users (_input: Input<'list_users'>, { store }: Ctx) {
    return (await store.users.list()).map(u => ({ username: u.username, tags: u.tags }))
  },
  async create_user ({ body }: Input<'create_user'>, { store }: Ctx) {
    const user = { username: body.username, tags: body.tags ?? 'undefined', passwordHash: await hashSecret(body.password) }
    if (!await store.users.insert(user)) throw errors.conflict('user_exists', ReturnCode.USER_EXISTS)
    return 'ok' as const
  },
  async update_user ({ path, body }: Input<'update_user'>, { store }: Ctx) {
    if (!await store.users.update(path.name, { tags: body.tags })) throw errors.userNotFound()
    return 'ok' as const
  },
  async delete_user ({ path }: Input<'delete_user'>, { store }: Ctx) {
    if (path.name === DEFAULT_ADMIN) throw errors.conflict('cannot_delete_admin', ReturnCode.ADMIN_UNDELETABLE)
    if (!await store.users.delete(path.name)) throw errors.userNotFound()
    return 'ok' as const
  },
  async change_pwd ({ path, body }: Input<'change_pwd'>, ctx: Ctx) {
    const user = await ctx.store.users.get(path.username)
    if (!user) throw errors.userNotFound()
    if (!await verifySecret(user.passwordHash, body.old_pwd)) throw errors.badParamCode('old_password_wrong', ReturnCode.OLD_PASSWORD_WRONG)
    if (!await ctx.store.users.update(path.username, { passwordHash: await hashSecret(body.new_pwd) })) throw errors.userNotFound()
    await ctx.users.checkDefaultPassword()
    return 'ok' as const
  },
  async auth_user ({ body }: Input<'auth_user'>, { store }: Ctx) {
    // an unknown user costs the same KDF time as a wrong password, and gets the same answer
    const user = await store.users.get(body.username)
    const ok = await verifySecret(user?.passwordHash ?? DUMMY_HASH, body.password)
    if (!user || !ok) throw errors.unauthorized()
    return 'ok' as const
  }
}
