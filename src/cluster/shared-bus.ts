/**
 * Shared subscriptions across the cluster (the broker side is src/broker/shared.ts): Redis holds
 * each group's members (`<node>\0<client id>`, a set per group), and one Lua script picks the
 * member of a message by the strategy over every node's members, atomically and once per message:
 * the first node to ask decides, the others read the same answer (so round_robin rotates and
 * sticky sticks cluster-wide, and each message reaches the group once). With the pick, the script
 * records the message (QoS 1/2) under the chosen node; that node deletes the record once the
 * member has it (PUBACK/PUBREC, or stored in its persistent session). Records are what a dying
 * node leaves behind: a survivor takes its record set over (RENAME: one taker) and dispatches them
 * again; a node also sends again its own records older than ORPHAN_MS that it does not know of
 * (a pick for a member that left before that node read the message). Offline persistent members
 * are kept per group too (client id → QoS): with no live member anywhere, the pick names one of
 * them and the node that asked first queues the message in its session (the shared store).
 *
 * Keys are built inside the script, which a Redis Cluster would refuse: the bus is one Redis.
 */
import { randomBytes } from 'node:crypto'
import type { Bus } from './bus.js'
import { eventChannel } from './bus.js'
import type { SharedBus, SharedHandlers, SharedPick, SharedStrategy } from '../broker/types.js'

interface RedisCommands {
  defineCommand (name: string, def: { numberOfKeys: number, lua: string }): void
  sadd (key: string, member: string): Promise<number>
  srem (key: string, member: string): Promise<number>
  hdel (key: string, field: string): Promise<number>
  hset (key: string, field: string, value: string): Promise<number>
  hgetall (key: string): Promise<Record<string, string>>
  rename (from: string, to: string): Promise<string>
  del (key: string): Promise<number>
}

const PREFIX = 'emqx:shared:'
const GROUPS = `${PREFIX}groups`
/** how long a message's pick is kept: far longer than a message takes to reach every node */
const PICK_MS = 60_000
/** a record of this node it does not know of, older than this, is sent again */
const ORPHAN_MS = 5000
const SWEEP_MS = 1000
const CHANNEL = `${PREFIX}again`

// ARGV: prefix, group, key, strategy, publisher hash, random, pick ttl, record ('' for QoS 0)
const PICK = `
local p, group, key = ARGV[1], ARGV[2], ARGV[3]
local claim = p .. 'c:' .. group .. '\\0' .. key
local got = redis.call('GET', claim)
if got then return {got, 0} end
local ms = redis.call('SMEMBERS', p .. 'm:' .. group)
if #ms == 0 then
  -- no live member: one offline persistent member's session takes it ('' node)
  local off = redis.call('HKEYS', p .. 'o:' .. group)
  local pick = ''
  if #off > 0 then
    table.sort(off)
    local i = tonumber(ARGV[4] == 'hash' and ARGV[5] or ARGV[6]) % #off + 1
    pick = '\0' .. off[i] .. '\0' .. redis.call('HGET', p .. 'o:' .. group, off[i])
  end
  redis.call('SET', claim, pick, 'PX', ARGV[7])
  return {pick, 1}
end
table.sort(ms)
local s, pick = ARGV[4], nil
if s == 'round_robin' then
  pick = ms[(redis.call('INCR', p .. 'n:' .. group) - 1) % #ms + 1]
elseif s == 'sticky' then
  local k = p .. 's:' .. group
  local was = redis.call('GET', k)
  if was and redis.call('SISMEMBER', p .. 'm:' .. group, was) == 1 then pick = was else
    pick = ms[tonumber(ARGV[6]) % #ms + 1]
    redis.call('SET', k, pick)
  end
elseif s == 'hash' then
  pick = ms[tonumber(ARGV[5]) % #ms + 1]
else
  pick = ms[tonumber(ARGV[6]) % #ms + 1]
end
redis.call('SET', claim, pick, 'PX', ARGV[7])
if ARGV[8] ~= '' then
  local node = string.sub(pick, 1, string.find(pick, '\\0', 1, true) - 1)
  redis.call('HSET', p .. 'i:' .. node, group .. '\\0' .. key, ARGV[8])
end
return {pick, 1}
`

// ARGV: prefix, node: removes that node's members from every group
const PURGE = `
local p, node = ARGV[1], ARGV[2] .. '\\0'
for _, g in ipairs(redis.call('SMEMBERS', p .. 'groups')) do
  local k = p .. 'm:' .. g
  for _, m in ipairs(redis.call('SMEMBERS', k)) do
    if string.sub(m, 1, #node) == node then redis.call('SREM', k, m) end
  end
  if redis.call('SCARD', k) == 0 then redis.call('SREM', p .. 'groups', g) end
end
return 1
`

interface PickCommands extends RedisCommands {
  emqxSharedPick (...args: string[]): Promise<[string, number]>
  emqxSharedPurge (...args: string[]): Promise<number>
}

interface Log { warn: (o: object, msg?: string) => void }

export class RedisSharedBus implements SharedBus {
  private readonly redis: PickCommands
  private handler: SharedHandlers | null = null
  private readonly sweep: NodeJS.Timeout
  private publish: (message: Buffer) => void = () => {}

  private constructor (bus: Bus, readonly node: string, private readonly log: Log) {
    this.redis = bus.pubConn as unknown as PickCommands
    this.redis.defineCommand('emqxSharedPick', { numberOfKeys: 0, lua: PICK })
    this.redis.defineCommand('emqxSharedPurge', { numberOfKeys: 0, lua: PURGE })
    this.sweep = setInterval(() => { this.resendOrphans().catch(err => { this.log.warn({ err: String(err) }, 'shared subscriptions: sweep failed') }) }, SWEEP_MS)
    this.sweep.unref()
  }

  /** Opens the side channel nodes announce messages sent again on; this node's members of a previous run leave. */
  static async open (bus: Bus, node: string, log: Log): Promise<RedisSharedBus> {
    const b = new RedisSharedBus(bus, node, log)
    const ch = await eventChannel(bus, CHANNEL, (message) => { b.received(message) })
    b.publish = ch.publish
    await b.redis.emqxSharedPurge(PREFIX, node)
    return b
  }

  attach (handlers: SharedHandlers): void {
    this.handler = handlers
    // what the previous run of this node left, now that someone can send it
    this.takeOver(this.node).catch(err => { this.log.warn({ err: String(err) }, 'shared subscriptions: take-over failed') })
  }

  async join (group: string, clientId: string): Promise<void> {
    // sent at once: a leave sent later is applied after them (one connection, in order)
    await Promise.all([
      this.redis.sadd(GROUPS, group),
      this.redis.sadd(`${PREFIX}m:${group}`, this.member(clientId)),
      this.redis.hdel(`${PREFIX}o:${group}`, clientId)
    ])
  }

  offline (group: string, clientId: string, qos: number): void {
    this.redis.hset(`${PREFIX}o:${group}`, clientId, String(qos)).catch(err => { this.log.warn({ err: String(err) }, 'shared subscriptions: offline member not recorded') })
  }

  forget (group: string, clientId: string): void {
    this.redis.hdel(`${PREFIX}o:${group}`, clientId).catch(() => {})
  }

  leave (group: string, clientId: string): void {
    this.redis.srem(`${PREFIX}m:${group}`, this.member(clientId)).catch(err => { this.log.warn({ err: String(err) }, 'shared subscriptions: leave failed') })
  }

  async pick (group: string, key: string, strategy: SharedStrategy, publisherHash: number, record: string): Promise<SharedPick | null> {
    const [got, first] = await this.redis.emqxSharedPick(PREFIX, group, key, strategy, String(publisherHash), String(Math.floor(Math.random() * 2 ** 31)), String(PICK_MS), record)
    if (got === '') return first === 1 ? { node: '', clientId: '', first: true } : null
    const at = got.indexOf('\u0000')
    if (at === 0) {
      // an offline persistent member: \0 client id \0 its QoS
      const end = got.lastIndexOf('\u0000')
      return { node: '', clientId: got.slice(1, end), qos: Number(got.slice(end + 1)) === 2 ? 2 : Number(got.slice(end + 1)) === 1 ? 1 : 0, first: first === 1 }
    }
    return { node: got.slice(0, at), clientId: got.slice(at + 1), first: first === 1 }
  }

  done (group: string, key: string): void {
    this.redis.hdel(`${PREFIX}i:${this.node}`, `${group}\u0000${key}`).catch(() => {})
  }

  announce (group: string, key: string, record: string): void {
    this.publish(Buffer.from(JSON.stringify([this.node, group, key, record])))
  }

  /** peers that stopped: their members leave every group, their records are sent again (by one survivor) */
  nodesGone (names: string[]): void {
    for (const name of names) {
      if (name === this.node) continue
      this.redis.emqxSharedPurge(PREFIX, name)
        .then(async () => { await this.takeOver(name) })
        .catch(err => { this.log.warn({ err: String(err), node: name }, 'shared subscriptions: take-over failed') })
    }
  }

  close (): void { clearInterval(this.sweep) }

  private member (clientId: string): string { return `${this.node}\u0000${clientId}` }

  private received (message: Buffer): void {
    let parsed: unknown
    try { parsed = JSON.parse(message.toString('utf8')) } catch { return }
    if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every(x => typeof x === 'string')) return
    const [from, group, key, record] = parsed as [string, string, string, string]
    // the announcer delivers to its own members itself
    if (from !== this.node) this.handler?.again(group, key, record, false).catch(() => {})
  }

  private async takeOver (node: string): Promise<void> {
    const from = `${PREFIX}i:${node}`
    const to = `${from}:taken:${this.node}:${randomBytes(4).toString('hex')}`
    // one taker: the others find nothing to rename
    try { await this.redis.rename(from, to) } catch { return }
    const records = await this.redis.hgetall(to)
    await Promise.all(Object.entries(records).map(async ([field, record]) => { await this.again(field, record) }))
    await this.redis.del(to)
  }

  /** this node's records it does not know of, older than ORPHAN_MS: sent again, then forgotten */
  private async resendOrphans (): Promise<void> {
    if (this.handler === null) return
    const own = `${PREFIX}i:${this.node}`
    const records = await this.redis.hgetall(own)
    const mine = this.handler.mine()
    const now = Date.now()
    for (const [field, record] of Object.entries(records)) {
      if (mine.has(field)) continue
      let at = 0
      try { at = Number((JSON.parse(record) as { at?: unknown }).at) } catch {}
      if (now - at < ORPHAN_MS) continue
      await this.again(field, record)
      await this.redis.hdel(own, field)
    }
  }

  /** `field`: group \0 key of a record; its message is dispatched again under a new key */
  private async again (field: string, record: string): Promise<void> {
    const at = field.indexOf('\u0000')
    if (at < 0 || this.handler === null) return
    await this.handler.again(field.slice(0, at), `${field.slice(at + 1)}\u0000again:${randomBytes(6).toString('hex')}`, record, true)
  }
}
