/**
 * Salted password/secret hashes with scrypt from node:crypto (OpenSSL's implementation), never
 * plaintext or md5. Verified (hash, secret) pairs are cached so Basic auth stays fast on the hot path;
 * the cache key includes the stored hash, so a changed secret or password can never hit a stale entry.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(pw, salt, len, opts, (err, key) => err ? reject(err) : resolve(key)))

const PARAMS = { N: 16384, r: 8, p: 1 }
const KEYLEN = 32
const CACHE_MAX = 10000

export async function hashSecret (secret: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(secret, salt, KEYLEN, PARAMS)
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

const verified = new Map<string, true>()

function cacheKey (stored: string, secret: string): string {
  return createHash('sha256').update(stored).update('\0').update(secret).digest('base64')
}

/** Constant-time comparison; a malformed stored hash is simply "no match", never a throw. */
export async function verifySecret (stored: string, secret: string): Promise<boolean> {
  const ck = cacheKey(stored, secret)
  if (verified.has(ck)) return true
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string]
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  // a damaged record must not become a 500 or an expensive KDF call: only sane parameters are tried
  if (!(params.N >= 2 && params.N <= 2 ** 20 && params.r >= 1 && params.r <= 32 && params.p >= 1 && params.p <= 16)) return false
  const expected = Buffer.from(keyB64, 'base64')
  if (expected.length < 16 || expected.length > 64) return false
  let key: Buffer
  try {
    key = await scrypt(secret, Buffer.from(saltB64, 'base64'), expected.length, { ...params, maxmem: 256 * 1024 * 1024 })
  } catch {
    return false
  }
  const ok = key.length === expected.length && timingSafeEqual(key, expected)
  if (ok) {
    if (verified.size >= CACHE_MAX) verified.clear()
    verified.set(ck, true)
  }
  return ok
}

/** A hash of a random value: used to spend the same time on unknown users as on wrong passwords. */
export const DUMMY_HASH = await hashSecret(randomBytes(16).toString('hex'))

/** base62 of 128 random bits, like emqx_guid:to_base62. */
export function generateSecret (): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  let n = BigInt('0x' + randomBytes(16).toString('hex'))
  let out = ''
  while (n > 0n) {
    out = alphabet[Number(n % 62n)] + out
    n /= 62n
  }
  return out.padStart(22, '0')
}
