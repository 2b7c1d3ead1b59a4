/**
 * HTTP Basic on every operation but POST /auth: an application (`app_id` + secret, status true, not
 * expired) or a dashboard user (DECISIONS.md "Security"). Unknown ids cost the same KDF time as
 * wrong secrets, and every failure has the same answer.
 */
import { StoreUnavailableError, type AppRecord, type Store, type UserRecord } from '../store/store.js'
import { DUMMY_HASH, verifySecret } from '../services/secrets.js'
import { DEFAULT_ADMIN } from '../services/users.js'
import type { Role } from '../core/roles.js'

/** Who made a request, and the role it had when its credentials were checked. */
export interface Principal { kind: 'app' | 'user', id: string, role: Role }

export function parseBasic (header: string | undefined): { id: string, secret: string } | null {
  if (!header) return null
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return null
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return null
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

/**
 * The last record read for each id, so that while the store is unreachable the credentials it
 * last confirmed still open the API (live broker state stays manageable during an outage).
 */
const lastKnown = new Map<string, { app: AppRecord | null, user: UserRecord | null }>()
const LAST_KNOWN_MAX = 10000

async function lookup (store: Store, id: string): Promise<{ app: AppRecord | null, user: UserRecord | null }> {
  try {
    const app = await store.apps.get(id)
    const user = app ? null : await store.users.get(id)
    if (lastKnown.size >= LAST_KNOWN_MAX) lastKnown.clear()
    lastKnown.set(id, { app, user })
    return { app, user }
  } catch (err) {
    const known = lastKnown.get(id)
    if (err instanceof StoreUnavailableError && known) return known
    throw err
  }
}

export async function authenticate (store: Store, id: string, secret: string, nowSec = Math.floor(Date.now() / 1000)): Promise<Principal | null> {
  const { app, user } = await lookup(store, id)
  if (app) {
    const ok = await verifySecret(app.secretHash, secret)
    const usable = app.status && (app.expired === null || app.expired >= nowSec)
    return ok && usable ? { kind: 'app', id, role: app.role } : null
  }
  const ok = await verifySecret(user?.passwordHash ?? DUMMY_HASH, secret)
  // admin is always an administrator, whatever its stored row says
  return user && ok ? { kind: 'user', id, role: id === DEFAULT_ADMIN ? 'administrator' : user.role } : null
}
