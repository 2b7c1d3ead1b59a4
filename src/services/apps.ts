/**
 * API applications (emqx_mgmt_api_apps): credentials whose secret is shown once, at creation, and
 * stored only as a salted hash. Basic auth reads the same records (src/api/auth.ts).
 */
import type { AppPatch, AppRecord, Store } from '../store/store.js'
import type { AppCreateWire, AppUpdateWire } from '../core/wire.js'
import { errors } from '../core/errors.js'
import { generateSecret, hashSecret } from './secrets.js'
import { DEFAULT_ROLE, type Role } from '../core/roles.js'

export class AppsService {
  constructor (private readonly store: Store) {}

  /** sorted by app_id */
  list (): Promise<AppRecord[]> { return this.store.apps.list() }

  async get (appId: string): Promise<AppRecord> {
    const app = await this.store.apps.get(appId)
    if (!app) throw errors.notFound('app_not_found')
    return app
  }

  /** The stored app and its secret (the one given, or a new one): the only time the secret is known. */
  async create (req: Omit<AppCreateWire, 'role'> & { role?: Role }): Promise<{ app: AppRecord, secret: string }> {
    const secret = req.secret ?? generateSecret()
    const app: AppRecord = {
      app_id: req.app_id,
      name: req.name ?? req.app_id,
      desc: req.desc ?? '',
      status: req.status ?? true,
      expired: req.expired ?? null,
      secretHash: await hashSecret(secret),
      // at most the caller's role: src/api/roles.ts checked it before this runs
      role: req.role ?? DEFAULT_ROLE
    }
    if (!await this.store.apps.insert(app)) throw errors.conflict('app_exists')
    return { app, secret }
  }

  /** Only the fields sent change; `expired: null` removes the expiry. */
  async update (appId: string, req: AppUpdateWire): Promise<void> {
    const patch: AppPatch = {}
    if (req.name !== undefined) patch.name = req.name
    if (req.desc !== undefined) patch.desc = req.desc
    if (req.status !== undefined) patch.status = req.status
    if (req.expired !== undefined) patch.expired = req.expired
    if (req.role !== undefined) patch.role = req.role
    if (!await this.store.apps.update(appId, patch)) throw errors.notFound('app_not_found')
  }

  async delete (appId: string): Promise<void> {
    if (!await this.store.apps.delete(appId)) throw errors.notFound('app_not_found')
  }
}
