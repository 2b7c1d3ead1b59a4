/** emqx_mgmt_api_apps: API credentials; the secret is shown once, at creation, and stored hashed. */
import type { Ctx, AppWire, Input } from '../types.js'
import type { AppPatch, AppRecord } from '../../store/store.js'
import { errors } from '../../core/errors.js'
import { generateSecret, hashSecret } from '../../services/secrets.js'

export const apps = {
  async list_apps (_input: Input<'list_apps'>, { store }: Ctx) {
    return (await store.apps.list()).map(format)
  },
  async add_app ({ body }: Input<'add_app'>, { store }: Ctx) {
    const secret = body.secret ?? generateSecret()
    const app: AppRecord = {
      app_id: body.app_id,
      name: body.name ?? body.app_id,
      desc: body.desc ?? '',
      status: body.status ?? true,
      expired: body.expired ?? null,
      secretHash: await hashSecret(secret)
    }
    if (!await store.apps.insert(app)) throw errors.conflict('app_exists')
    return { ...format(app), secret }
  },
  async lookup_app ({ path }: Input<'lookup_app'>, { store }: Ctx) {
    const app = await store.apps.get(path.appid)
    if (!app) throw errors.notFound('app_not_found')
    return format(app)
  },
  async update_app ({ path, body }: Input<'update_app'>, { store }: Ctx) {
    const patch: AppPatch = {}
    if (body.name !== undefined) patch.name = body.name
    if (body.desc !== undefined) patch.desc = body.desc
    if (body.status !== undefined) patch.status = body.status
    if (body.expired !== undefined) patch.expired = body.expired
    if (!await store.apps.update(path.appid, patch)) throw errors.notFound('app_not_found')
    return 'ok' as const
  },
  async del_app ({ path }: Input<'del_app'>, { store }: Ctx) {
    if (!await store.apps.delete(path.appid)) throw errors.notFound('app_not_found')
    return 'ok' as const
  }
}

function format (a: AppRecord): AppWire {
  const out: AppWire = { app_id: a.app_id, name: a.name, desc: a.desc, status: a.status }
  if (a.expired !== null) out.expired = a.expired
  return out
}
