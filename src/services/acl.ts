/**
 * MQTT topic authorization (ACL) with the semantics of EMQ X's built-in database (emqx_auth_mnesia,
 * EMQX v4): a rule allows or denies `pub`, `sub` or `pubsub` to one client id, one user name, an IP
 * range or every client (`all`), on a topic filter whose levels may be the client's id (`%c`) or user
 * name (`%u`), or on one exact filter (`eq a/#`).
 *
 * A PUBLISH or SUBSCRIBE is judged by the first rule that covers its action and topic, looking at
 * the client id's rules, then the user name's, then the IP ranges', then those for all; within each
 * group the most recently added rule first. No rule: `mqtt.acl_nomatch` decides (allow by default).
 *
 * Checks read an in-memory snapshot, so no packet waits on the store; the snapshot is re-read after
 * every change made here and on refresh() (a peer's change), and `changed` is told so that cached
 * decisions are dropped.
 */
import ipaddr from 'ipaddr.js'
import { errors } from '../core/errors.js'
import type { AclAccess, AclAction, AclKind, AclRecord, Store } from '../store/store.js'
import type { Settings } from './settings.js'
import { isValidTopicFilter } from './topics.js'

/** The client as the checks see it (the broker's ConnInfo fits). */
export interface AclClient { readonly clientId: string, readonly username: string | null, readonly ipaddress: string }
export type AclCheck = 'pub' | 'sub'

/** One rule as POST /acl takes it: at most one of clientid, username, ipaddress; none = all clients. */
export interface AclInput {
  clientid?: string | undefined
  username?: string | undefined
  ipaddress?: string | undefined
  topic: string
  action: AclAction
  access: AclAccess
}

const ACTIONS: readonly string[] = ['pub', 'sub', 'pubsub']
/** how soon a snapshot that could not be re-read after a change is tried again */
const RETRY_MS = 1000
const ACCESS: readonly string[] = ['allow', 'deny']
/** EMQ X's exact-match form of a rule topic: `eq #` matches the filter `#` only */
const EQ = 'eq '

type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number]
const PLUS = 0
const HASH = 1
const USER = 2
const CLIENT = 3
type Level = string | typeof PLUS | typeof HASH | typeof USER | typeof CLIENT

interface Rule {
  readonly record: AclRecord
  readonly pub: boolean
  readonly sub: boolean
  readonly allow: boolean
  /** set for an `eq` rule: the one filter it matches */
  readonly exact: string | null
  readonly levels: readonly Level[]
  readonly range: IpRange | null
}

/** The rules grouped in the order they are consulted. */
interface RuleSet {
  readonly size: number
  readonly byClient: ReadonlyMap<string, readonly Rule[]>
  readonly byUser: ReadonlyMap<string, readonly Rule[]>
  readonly byIp: readonly Rule[]
  readonly all: readonly Rule[]
  /** tells one rule set from another without comparing every rule */
  readonly fingerprint: string
}

const EMPTY: RuleSet = { size: 0, byClient: new Map(), byUser: new Map(), byIp: [], all: [], fingerprint: '0' }

/**
 * A network in CIDR form (`10.0.0.0/8`) or one address (a /32 or /128), normalised: the network
 * address with the host bits cleared, IPv6 compressed, an IPv4-mapped IPv6 range as its IPv4 range.
 * null when it is neither. IPv4 must be four decimal parts (ipaddr.js also reads `10.1` and hex).
 */
export function parseRange (text: string): { range: IpRange, text: string } | null {
  const parts = text.split('/')
  if (parts.length > 2) return null
  const [host = '', prefix] = parts as [string, string | undefined]
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return null
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) addr = ipaddr.IPv4.parse(host)
  else if (ipaddr.IPv6.isValid(host) && !host.includes('%')) addr = ipaddr.IPv6.parse(host)
  else return null
  let bits = prefix === undefined ? (addr.kind() === 'ipv4' ? 32 : 128) : Number(prefix)
  if (addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress()) {
    if (bits < 96) return null
    addr = addr.toIPv4Address()
    bits -= 96
  }
  if (bits > (addr.kind() === 'ipv4' ? 32 : 128)) return null
  const net = addr instanceof ipaddr.IPv4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`)
  return { range: [net, bits], text: `${net.toString()}/${bits}` }
}

/** A rule topic: a topic filter ([MQTT-4.7.1]) whose levels may be %u or %c, or `eq <filter>`. */
export function isValidRuleTopic (topic: string): boolean {
  return isValidTopicFilter(topic.startsWith(EQ) ? topic.slice(EQ.length) : topic)
}

function compile (record: AclRecord): Rule {
  const exact = record.topic.startsWith(EQ) ? record.topic.slice(EQ.length) : null
  const levels: Level[] = exact !== null
    ? []
    : record.topic.split('/').map(l => l === '+' ? PLUS : l === '#' ? HASH : l === '%u' ? USER : l === '%c' ? CLIENT : l)
  return {
    record,
    pub: record.action !== 'sub',
    sub: record.action !== 'pub',
    allow: record.access === 'allow',
    exact,
    levels,
    range: record.kind === 'ipaddress' ? parseRange(record.who)?.range ?? null : null
  }
}

/**
 * Whether a rule's levels cover a topic's `words` (a topic name, or a subscription's filter whose wildcards
 * count as plain words, as emqx_topic:match/2 does). A placeholder is the client's id or user name
 * taken literally, never as a wildcard (a user named `#` gets no more than the topic `#`), and a
 * rule with %u does not apply to a client without a user name.
 */
function matchLevels (levels: readonly Level[], words: readonly string[], c: AclClient): boolean {
  // [MQTT-4.7.2-1] a filter that starts with a wildcard does not reach $-topics
  if (words[0]?.startsWith('$') === true && (levels[0] === PLUS || levels[0] === HASH)) return false
  let i = 0
  for (const level of levels) {
    if (level === HASH) return true // also the parent level: a/# covers a [MQTT-4.7.1-2]
    if (i >= words.length) return false
    if (level === PLUS) {
      i++
    } else if (level === USER || level === CLIENT) {
      const value = level === USER ? c.username : c.clientId
      if (value === null) return false
      for (const part of value.split('/')) {
        if (words[i++] !== part) return false
      }
    } else if (words[i++] !== level) {
      return false
    }
  }
  return i === words.length
}

function covers (rule: Rule, action: AclCheck, topic: string, words: readonly string[], c: AclClient): boolean {
  if (!(action === 'pub' ? rule.pub : rule.sub)) return false
  return rule.exact !== null ? rule.exact === topic : matchLevels(rule.levels, words, c)
}

/** `rows` in the store's order (kind, who, newest first). */
function group (rows: readonly AclRecord[]): RuleSet {
  if (rows.length === 0) return EMPTY
  const byClient = new Map<string, Rule[]>()
  const byUser = new Map<string, Rule[]>()
  const byIp: Rule[] = []
  const all: Rule[] = []
  let max = 0
  let sum = 0
  for (const r of rows) {
    const rule = compile(r)
    max = Math.max(max, r.addedAt)
    sum += r.addedAt
    if (r.kind === 'clientid') push(byClient, r.who, rule)
    else if (r.kind === 'username') push(byUser, r.who, rule)
    else if (r.kind === 'ipaddress') { if (rule.range !== null) byIp.push(rule) } else all.push(rule)
  }
  // several ranges may hold one address: across them too, the newest rule first
  byIp.sort((a, b) => b.record.addedAt - a.record.addedAt)
  return { size: rows.length, byClient, byUser, byIp, all, fingerprint: `${rows.length}:${max}:${sum}` }
}

function push (m: Map<string, Rule[]>, key: string, rule: Rule): void {
  const list = m.get(key)
  if (list === undefined) m.set(key, [rule])
  else list.push(rule)
}

/** Whom `input` is for, as stored (an IP range normalised); 400 when it names more than one or a bad range. */
function targetOf (input: AclInput): { kind: AclKind, who: string } {
  const given = (['clientid', 'username', 'ipaddress'] as const).filter(k => input[k] !== undefined)
  if (given.length > 1) throw errors.badParam(`a rule is for one of clientid, username and ipaddress, not ${given.join(' and ')}`)
  const kind = given[0]
  if (kind === undefined) return { kind: 'all', who: '' }
  const who = input[kind] as string
  if (who === '') throw errors.badParam(`${kind} must not be empty`)
  if (kind !== 'ipaddress') return { kind, who }
  const parsed = parseRange(who)
  if (parsed === null) throw errors.badParam(`ipaddress must be an IPv4 or IPv6 address or network in CIDR form (10.0.0.0/8): ${JSON.stringify(who)}`)
  return { kind, who: parsed.text }
}

/** The stored form of a lookup's target: an IP range normalised as it is stored; 400 for a bad one. */
export function storedWho (kind: AclKind, who: string): string {
  if (kind !== 'ipaddress') return who
  const parsed = parseRange(who)
  if (parsed === null) throw errors.badParam(`not an IPv4 or IPv6 address or network: ${JSON.stringify(who)}`)
  return parsed.text
}

/** A rule as it is stored (its target normalised), without its time; a 400 that says why for a bad one. */
export function aclRuleOf (input: AclInput): Omit<AclRecord, 'addedAt'> {
  const target = targetOf(input)
  if (!isValidRuleTopic(input.topic)) throw errors.badTopic(`not a topic filter: ${JSON.stringify(input.topic)}`)
  if (!ACTIONS.includes(input.action)) throw errors.badParam(`action must be pub, sub or pubsub: ${JSON.stringify(input.action)}`)
  if (!ACCESS.includes(input.access)) throw errors.badParam(`access must be allow or deny: ${JSON.stringify(input.access)}`)
  return { ...target, topic: input.topic, action: input.action, access: input.access }
}

export class AclService {
  private rules: RuleSet = EMPTY
  private lastAddedAt = 0
  private reading: Promise<void> | null = null
  private again = false
  private retry: NodeJS.Timeout | null = null

  /** `changed` runs after the rules in force changed: decisions cached under the old ones are void */
  constructor (private readonly store: Store, private readonly settings: Settings, private readonly changed: () => void) {}

  async start (): Promise<void> {
    await this.refresh()
  }

  stop (): void {
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
  }

  /** The rule count in force on this node. */
  get size (): number { return this.rules.size }

  /** Whether `c` may publish to (`pub`) or subscribe to (`sub`) `topic`. */
  check (c: AclClient, action: AclCheck, topic: string): boolean {
    const rs = this.rules
    if (rs.size > 0) {
      const t: Asked = { action, topic, words: topic.split('/') }
      const hit = firstMatch(rs.byClient.get(c.clientId), t, c) ??
        (c.username === null ? null : firstMatch(rs.byUser.get(c.username), t, c)) ??
        (rs.byIp.length === 0 ? null : firstMatch(ipRules(rs.byIp, c.ipaddress), t, c)) ??
        firstMatch(rs.all, t, c)
      if (hit !== null) return hit.allow
    }
    return this.settings.string('mqtt.acl_nomatch') === 'allow'
  }

  /** Validates every input, then stores them all (or none, 400 on the first bad one); returns them as stored. */
  async add (inputs: readonly AclInput[]): Promise<AclRecord[]> {
    const records = inputs.map(input => ({ ...aclRuleOf(input), addedAt: 0 }))
    // stamped in input order once all are valid: a later rule of the batch is the newer one
    for (const r of records) r.addedAt = this.stamp()
    await this.store.acl.add(records)
    await this.refreshAfterChange()
    return records
  }

  /** the rules of one kind, or every rule */
  async list (kind?: AclKind): Promise<AclRecord[]> {
    return await this.store.acl.list(kind)
  }

  /** The rules of one target in the order they are consulted. */
  async of (kind: AclKind, who: string): Promise<AclRecord[]> {
    return await this.store.acl.of(kind, storedWho(kind, who))
  }

  /** false when the target has no rule on that topic */
  async delete (kind: AclKind, who: string, topic: string): Promise<boolean> {
    const removed = await this.store.acl.delete(kind, storedWho(kind, who), topic)
    await this.refreshAfterChange()
    return removed > 0
  }

  /**
   * Re-reads the rules from the store, one read at a time; a call made while a read runs is served
   * by a read that starts after it, so the last snapshot is never older than the last change.
   */
  async refresh (): Promise<void> {
    if (this.reading !== null) {
      this.again = true
      return await this.reading
    }
    this.reading = (async () => {
      do {
        this.again = false
        const next = group(await this.store.acl.list())
        const before = this.rules
        this.rules = next
        if (next.fingerprint !== before.fingerprint) this.changed()
      } while (this.again)
    })()
    try { await this.reading } finally { this.reading = null }
  }

  /** A change was stored: the snapshot must follow it, so a failed re-read is retried until one succeeds. */
  private async refreshAfterChange (): Promise<void> {
    try {
      await this.refresh()
    } catch (err) {
      this.retryLater()
      throw err
    }
  }

  private retryLater (): void {
    if (this.retry !== null) return
    this.retry = setTimeout(() => {
      this.retry = null
      this.refresh().catch(() => { this.retryLater() })
    }, RETRY_MS)
    this.retry.unref()
  }

  /** epoch microseconds, strictly increasing: two rules added in one millisecond keep their order */
  private stamp (): number {
    this.lastAddedAt = Math.max(Date.now() * 1000, this.lastAddedAt + 1)
    return this.lastAddedAt
  }
}

/** what a check asks about: the topic split once for every rule it is held against */
interface Asked { action: AclCheck, topic: string, words: readonly string[] }

function firstMatch (rules: readonly Rule[] | undefined, t: Asked, c: AclClient): Rule | null {
  if (rules === undefined) return null
  for (const r of rules) if (covers(r, t.action, t.topic, t.words, c)) return r
  return null
}

/** the ranges that hold `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address) */
function ipRules (rules: readonly Rule[], ip: string): Rule[] {
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  try { addr = ipaddr.process(ip) } catch { return [] }
  return rules.filter(r => r.range !== null && r.range[0].kind() === addr.kind() && addr.match(r.range))
}
