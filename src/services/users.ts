/**
 * Dashboard users. On first start (no users), `admin`/`public` is created, as EMQ X did, and an alarm
 * stays raised while admin's password is still `public` (DECISIONS.md "Security").
 */
import type { Store, UserPatch, UserRecord } from '../store/store.js'
import type { UserCreateWire, UserUpdateWire } from '../core/wire.js'
import { DEFAULT_ROLE, type Role } from '../core/roles.js'
import type { Alarms } from './alarms.js'
import { errors, ReturnCode } from '../core/errors.js'
import { DUMMY_HASH, hashSecret, verifySecret } from './secrets.js'

export const DEFAULT_ADMIN = 'admin'
const DEFAULT_PASSWORD = 'public'
const ALARM_ID = 'default_admin_password'

export class UsersService {
  constructor (private readonly store: Store, private readonly alarms: Alarms) {}

  async start (): Promise<void> {
    if (await this.store.users.count() === 0) {
      await this.store.users.insert({ username: DEFAULT_ADMIN, tags: 'administrator', passwordHash: await hashSecret(DEFAULT_PASSWORD), role: 'administrator' })
    }
    // admin is always an administrator (a row edited by hand, or restored from elsewhere, says so again)
    const admin = await this.store.users.get(DEFAULT_ADMIN)
    if (admin && admin.role !== 'administrator') await this.store.users.update(DEFAULT_ADMIN, { role: 'administrator' })
    await this.checkDefaultPassword()
  }

  async checkDefaultPassword (): Promise<void> {
    const admin = await this.store.users.get(DEFAULT_ADMIN)
    if (admin && await verifySecret(admin.passwordHash, DEFAULT_PASSWORD)) {
      this.alarms.raise(ALARM_ID, 'warning', 'Default admin password in use',
        'The dashboard user admin still has the default password; change it with PUT /api/v3/change_pwd/admin')
    } else {
      this.alarms.clear(ALARM_ID)
    }
  }

  /** sorted by username */
  list (): Promise<UserRecord[]> { return this.store.users.list() }

  /**
   * EMQ X stores the tags of a user created without them as the string "undefined". The role is at
   * most the caller's (src/api/roles.ts checked it before this runs); administrator when absent, as EMQX v5.
   */
  async create (req: Omit<UserCreateWire, 'role'> & { role?: Role }): Promise<void> {
    const user = { username: req.username, tags: req.tags ?? 'undefined', passwordHash: await hashSecret(req.password), role: req.role ?? DEFAULT_ROLE }
    if (!await this.store.users.insert(user)) throw errors.conflict('user_exists', ReturnCode.USER_EXISTS)
  }

  /** Only the fields sent change; admin stays an administrator (409, as deleting it). */
  async update (username: string, req: UserUpdateWire): Promise<void> {
    if (username === DEFAULT_ADMIN && req.role !== undefined && req.role !== 'administrator') throw errors.conflict('cannot_lower_admin', ReturnCode.ADMIN_UNDELETABLE)
    const patch: UserPatch = {}
    if (req.tags !== undefined) patch.tags = req.tags
    if (req.role !== undefined) patch.role = req.role
    if (!await this.store.users.update(username, patch)) throw errors.userNotFound()
  }

  async delete (username: string): Promise<void> {
    if (username === DEFAULT_ADMIN) throw errors.conflict('cannot_delete_admin', ReturnCode.ADMIN_UNDELETABLE)
    if (!await this.store.users.delete(username)) throw errors.userNotFound()
  }

  /** The old password must match; changing admin's re-checks the default-password alarm. */
  async changePassword (username: string, oldPwd: string, newPwd: string): Promise<void> {
    const user = await this.store.users.get(username)
    if (!user) throw errors.userNotFound()
    if (!await verifySecret(user.passwordHash, oldPwd)) throw errors.badParamCode('old_password_wrong', ReturnCode.OLD_PASSWORD_WRONG)
    if (!await this.store.users.update(username, { passwordHash: await hashSecret(newPwd) })) throw errors.userNotFound()
    await this.checkDefaultPassword()
  }

  /** An unknown user costs the same KDF time as a wrong password, and gets the same answer. */
  async verify (username: string, password: string): Promise<boolean> {
    const user = await this.store.users.get(username)
    const ok = await verifySecret(user?.passwordHash ?? DUMMY_HASH, password)
    return user !== null && ok
  }
}
