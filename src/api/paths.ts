/**
 * Request paths to operations, before validation: trailing slashes are optional (`/brokers` =
 * `/brokers/`, as EMQ X's router dropped empty segments), and a topic in the last path parameter
 * may be percent-encoded (`/routes/a%2Fb`) or raw (`/routes/a/b`) (DECISIONS.md). The matched
 * request is rewritten to the spec's canonical form so the validator and router see one shape.
 */
import { operations, type OperationEntry } from '../../generated/operations.js'
import { errors } from '../core/errors.js'

interface Matcher { op: OperationEntry, re: RegExp, names: string[] }

/**
 * Only a trailing `topic` parameter may span several segments, and an `ipaddress` (an IP range) may
 * carry its prefix length after a raw `/` (`10.0.0.0/8`). Literal parts match literally (`$all`).
 */
function compile (op: OperationEntry): Matcher {
  const names: string[] = []
  const literal = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
  const source = literal.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    names.push(name)
    if (name === 'topic' && op.path.endsWith('{topic}')) return '(.+)'
    return name === 'ipaddress' ? '([^/]+(?:/\\d{1,3})?)' : '([^/]+)'
  })
  return { op, re: new RegExp(`^${source === '/' ? '/' : source}$`), names }
}

const matchers = operations.map(compile)
  // literal paths before templates, so /nodes/x/plugins never reads as a topic
  .sort((a, b) => a.names.length - b.names.length)

export interface Matched { op: OperationEntry, params: Record<string, string>, canonicalPath: string }

function decode (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw errors.badParam(`path segment ${JSON.stringify(raw)} is not valid percent-encoding`)
  }
}

/** path is relative to /api/v3 and without query. null = no such path (any method). */
export function matchPath (method: string, path: string): Matched | null | 'method' {
  const p = path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path
  let pathExists = false
  for (const m of matchers) {
    const hit = m.re.exec(p)
    if (!hit) continue
    pathExists = true
    if (m.op.method !== method) continue
    const params: Record<string, string> = {}
    m.names.forEach((name, i) => { params[name] = decode(hit[i + 1] as string) })
    let i = 0
    const canonicalPath = m.op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[m.names[i++] as string] as string))
    return { op: m.op, params, canonicalPath }
  }
  return pathExists ? 'method' : null
}

/** The query parameters the spec declares as lists (`?type=a&type=b`): the only ones that repeat. */
const LIST_PARAMS: Readonly<Record<string, readonly string[]>> = { events: ['type'] }

/**
 * The first query key that appears more than once (`?_page=1&_page=2`), also through qs bracket
 * forms (`_page[]=1`, `_page[a]=1`), or null. Only the lists of LIST_PARAMS repeat; any other repeat is
 * always a mistake or an attempt to have two layers read different values.
 */
export function repeatedQueryKey (query: string, operationId?: string): string | null {
  const seen = new Set<string>()
  const lists = operationId === undefined ? undefined : LIST_PARAMS[operationId]
  for (const rawKey of new URLSearchParams(query).keys()) {
    const key = rawKey.replace(/\[.*$/, '')
    if (key !== rawKey || (seen.has(key) && lists?.includes(key) !== true)) return key
    seen.add(key)
  }
  return null
}
