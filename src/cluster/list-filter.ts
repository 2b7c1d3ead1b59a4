/**
 * The filters of the list operations (EMQX v4's query parameters), as each node applies them to its
 * own rows before the API merges the nodes' lists. Plain JSON, so a RemoteNode passes them over RPC
 * as they are; src/api/query.ts parses and validates them from the query string.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import type { ConnInfo, SessionInfo } from '../broker/types.js'

/** an address or a CIDR block: `10.0.0.9`, `10.0.0.0/8`, `::1/128` */
export interface IpMatch { address: string, prefix: number, family: 'ipv4' | 'ipv6' }

export interface ClientFilter {
  clientid?: string
  username?: string
  ip_address?: IpMatch
  conn_state?: 'connected' | 'disconnected'
  proto_ver?: number
  clean_start?: boolean
  /** substrings */
  like_clientid?: string
  like_username?: string
  /** epoch ms, inclusive */
  gte_created_at?: number
  lte_created_at?: number
  gte_connected_at?: number
  lte_connected_at?: number
  /** sessions only */
  gte_mqueue_len?: number
}

export interface SubscriptionFilter {
  clientid?: string
  /** the exact topic filter */
  topic?: string
  qos?: number
  /** the share group of a `$share/{group}/...` subscription */
  share?: string
  /** a concrete topic: the subscriptions whose filter matches it */
  match_topic?: string
}

export interface RouteFilter { match_topic?: string }

export const isEmpty = (f: object | undefined): boolean => f === undefined || Object.keys(f).length === 0

/** One connection or session as the client filters see it; a session's client may be offline (no conn). */
export interface ClientView { conn: ConnInfo | undefined, session: SessionInfo | undefined }

function ipMatcher (m: IpMatch): (address: string) => boolean {
  const list = new BlockList()
  list.addSubnet(m.address, m.prefix, m.family)
  return address => {
    // an IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
    if (isIPv4(plain)) return list.check(plain, 'ipv4')
    return isIPv6(plain) && list.check(plain, 'ipv6')
  }
}

const within = (v: number | undefined, gte: number | undefined, lte: number | undefined): boolean =>
  v !== undefined && (gte === undefined || v >= gte) && (lte === undefined || v <= lte)

/** Whether the filter reads the session of a connection (created_at, mqueue length): else the lookup is skipped. */
export const needsSession = (f: ClientFilter): boolean =>
  f.gte_created_at !== undefined || f.lte_created_at !== undefined || f.gte_mqueue_len !== undefined

/** A predicate for the filter: built once per request, then run on every row. */
export function clientPredicate (f: ClientFilter): (v: ClientView) => boolean {
  const ip = f.ip_address !== undefined ? ipMatcher(f.ip_address) : undefined
  const hasCreated = f.gte_created_at !== undefined || f.lte_created_at !== undefined
  const hasConnected = f.gte_connected_at !== undefined || f.lte_connected_at !== undefined
  return ({ conn, session }) => {
    const clientId = conn?.clientId ?? session?.clientId ?? ''
    const username = conn !== undefined ? conn.username : session?.username ?? null
    if (f.clientid !== undefined && clientId !== f.clientid) return false
    if (f.like_clientid !== undefined && !clientId.includes(f.like_clientid)) return false
    if (f.username !== undefined && username !== f.username) return false
    if (f.like_username !== undefined && (username === null || !username.includes(f.like_username))) return false
    if (f.conn_state !== undefined && (conn !== undefined ? 'connected' : 'disconnected') !== f.conn_state) return false
    if (f.clean_start !== undefined && (conn?.cleanStart ?? session?.cleanStart) !== f.clean_start) return false
    if (f.proto_ver !== undefined && conn?.protoVer !== f.proto_ver) return false
    if (ip !== undefined && (conn === undefined || !ip(conn.ipaddress))) return false
    if (hasCreated && !within(session?.createdAt ?? conn?.connectedAt, f.gte_created_at, f.lte_created_at)) return false
    if (hasConnected && !within(conn?.connectedAt, f.gte_connected_at, f.lte_connected_at)) return false
    if (f.gte_mqueue_len !== undefined && (session?.mqueueLen ?? 0) < f.gte_mqueue_len) return false
    return true
  }
}

/** `$share/{group}/{filter}` (and `$queue/{filter}`, group "$queue") split; null when not shared */
export function shareOf (topic: string): { group: string, filter: string } | null {
  if (topic.startsWith('$queue/')) return { group: '$queue', filter: topic.slice(7) }
  if (!topic.startsWith('$share/')) return null
  const slash = topic.indexOf('/', 7)
  return slash < 0 ? null : { group: topic.slice(7, slash), filter: topic.slice(slash + 1) }
}
