/**
 * Reads a V8 heap snapshot (.heapsnapshot JSON) into totals per kind of object: count and self size
 * by node type and constructor (or function) name. Two snapshots of one process, taken at 0 and N
 * idle connections, give what each connection adds (memory.ts). Self sizes only: retained sizes need
 * the dominator tree, and the per-class deltas are what says which object a cut would remove.
 */
import { readFileSync } from 'node:fs'

export interface HeapTotals {
  /** `type:name` → count, self bytes */
  byKind: Map<string, { count: number, bytes: number }>
  totalBytes: number
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

export function readHeap (file: string): HeapTotals {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSize = fields.indexOf('self_size')
  const byKind = new Map<string, { count: number, bytes: number }>()
  let totalBytes = 0
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!] ?? '?'
    let name = s.strings[s.nodes[i + iName]!] ?? '?'
    // strings and numbers by type only: their names are their values
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'heap number') name = ''
    if (name.length > 60) name = name.slice(0, 60)
    const key = `${type}:${name}`
    const size = s.nodes[i + iSize]!
    const k = byKind.get(key)
    if (k === undefined) byKind.set(key, { count: 1, bytes: size })
    else { k.count++; k.bytes += size }
    totalBytes += size
  }
  return { byKind, totalBytes }
}

/** What `after` holds beyond `before`, per connection, largest first. */
export function perConnection (before: HeapTotals, after: HeapTotals, n: number, top = 40): Array<{ kind: string, count: number, bytes: number }> {
  const out: Array<{ kind: string, count: number, bytes: number }> = []
  for (const [kind, a] of after.byKind) {
    const b = before.byKind.get(kind) ?? { count: 0, bytes: 0 }
    out.push({ kind, count: (a.count - b.count) / n, bytes: (a.bytes - b.bytes) / n })
  }
  return out.sort((x, y) => y.bytes - x.bytes).slice(0, top)
}
