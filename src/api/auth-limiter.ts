/**
 * Brute-force brake for credential checks (HTTP Basic on every route, POST /auth, the old password
 * of PUT /change_pwd): after `maxFailures` failed checks within `windowMs` from one address, that
 * address is locked out for `lockMs`, doubling on each repeat offence up to `maxLockMs`. A success
 * resets the failure count. Memory is bounded: at most `maxEntries` addresses, least recently seen
 * evicted first.
 */
import { isIPv6 } from 'node:net'

export interface AuthLimiterOptions {
  maxFailures: number
  windowMs: number
  lockMs: number
  maxLockMs: number
  maxEntries: number
  now: () => number
}

export const AUTH_LIMITER_DEFAULTS: AuthLimiterOptions = {
  maxFailures: 10,
  windowMs: 60_000,
  lockMs: 60_000,
  maxLockMs: 60 * 60_000,
  maxEntries: 10_000,
  now: Date.now
}

interface Entry {
  failures: number
  windowStart: number
  lockedUntil: number
  /** lockouts so far: the next one lasts lockMs * 2^offences */
  offences: number
}

/**
 * The key for an address: IPv4-mapped IPv6 is folded to IPv4, and IPv6 to its /64, because one
 * host usually owns a whole /64 and could otherwise rotate through addresses.
 */
export function addressKey (ip: string | undefined): string {
  if (!ip) return 'unknown'
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (v4) return v4[1] as string
  if (!isIPv6(ip)) return ip
  const [head = '', tail = ''] = ip.split('::', 2)
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return groups.slice(0, 4).map(g => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64'
}

export class AuthLimiter {
  private readonly opts: AuthLimiterOptions
  private readonly entries = new Map<string, Entry>()

  constructor (opts: Partial<AuthLimiterOptions> = {}) {
    this.opts = { ...AUTH_LIMITER_DEFAULTS, ...opts }
  }

  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfter (ip: string | undefined): number {
    const e = this.entries.get(addressKey(ip))
    if (!e) return 0
    const left = e.lockedUntil - this.opts.now()
    return left > 0 ? Math.ceil(left / 1000) : 0
  }

  failure (ip: string | undefined): void {
    const key = addressKey(ip)
    const now = this.opts.now()
    const e = this.touch(key) ?? { failures: 0, windowStart: now, lockedUntil: 0, offences: 0 }
    // a long quiet spell after the last lockout forgives earlier offences
    if (e.offences > 0 && e.lockedUntil + this.opts.maxLockMs < now) e.offences = 0
    if (now - e.windowStart > this.opts.windowMs) {
      e.failures = 0
      e.windowStart = now
    }
    e.failures++
    if (e.failures >= this.opts.maxFailures) {
      e.lockedUntil = now + Math.min(this.opts.lockMs * 2 ** e.offences, this.opts.maxLockMs)
      e.offences++
      e.failures = 0
      e.windowStart = now
    }
    this.store(key, e)
  }

  /** Resets the failure count; offences are kept so that one success cannot wipe a history of lockouts. */
  success (ip: string | undefined): void {
    const key = addressKey(ip)
    const e = this.entries.get(key)
    if (!e) return
    if (e.offences === 0) this.entries.delete(key)
    else e.failures = 0
  }

  get size (): number { return this.entries.size }

  /** Removes and returns the entry, so that store() puts it back as the most recently seen. */
  private touch (key: string): Entry | undefined {
    const e = this.entries.get(key)
    if (e) this.entries.delete(key)
    return e
  }

  private store (key: string, e: Entry): void {
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
    this.entries.set(key, e)
  }
}
