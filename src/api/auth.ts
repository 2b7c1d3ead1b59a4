/**
 * HTTP Basic on every operation but POST /auth: an application (`app_id` + secret, status true, not
 * expired) or a dashboard user (DECISIONS.md "Security"). Unknown ids cost the same KDF time as
 * wrong secrets, and every failure has the same answer.
 */
import type { Store } from '../store/store.js'
import { DUMMY_HASH, verifySecret } from '../services/secrets.js'

export type Principal = { kind: 'app', id: string } | { kind: 'user', id: string }

export function parseBasic (header: string | undefined): { id: string, secret: string } | null {
  if (!header) return null
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return null
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return null
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

export async function authenticate (store: Store, id: string, secret: string, nowSec = Math.floor(Date.now() / 1000)): Promise<Principal | null> {
  const app = await store.apps.get(id)
  if (app) {
    const ok = await verifySecret(app.secretHash, secret)
    const usable = app.status && (app.expired === null || app.expired >= nowSec)
    return ok && usable ? { kind: 'app', id } : null
  }
  const user = await store.users.get(id)
  const ok = await verifySecret(user?.passwordHash ?? DUMMY_HASH, secret)
  return user && ok ? { kind: 'user', id } : null
}
