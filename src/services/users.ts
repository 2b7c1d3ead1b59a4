/**
 * Dashboard users. On first start (no users), `admin`/`public` is created, as EMQ X did, and an alarm
 * stays raised while admin's password is still `public` (DECISIONS.md "Security").
 */
import type { Store } from '../store/store.js'
import type { Alarms } from './alarms.js'
import { hashSecret, verifySecret } from './secrets.js'

export const DEFAULT_ADMIN = 'admin'
const DEFAULT_PASSWORD = 'public'
const ALARM_ID = 'default_admin_password'

export class UsersService {
  constructor (private readonly store: Store, private readonly alarms: Alarms) {}

  async start (): Promise<void> {
    if (await this.store.users.count() === 0) {
      await this.store.users.insert({ username: DEFAULT_ADMIN, tags: 'administrator', passwordHash: await hashSecret(DEFAULT_PASSWORD) })
    }
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
}
