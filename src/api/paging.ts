/** Pagination as EMQ X's emqx_mgmt_api:paginate, with a stable order and a capped limit (DECISIONS.md). */
import type { PageMetaWire } from '../core/wire.js'

export const MAX_LIMIT = 10000

export interface PageQuery { _page?: number, _limit?: number }
/** the spec's `*Page` shapes: `items` and `meta` */
export interface Page<T> { items: T[], meta: PageMetaWire }

/** The validator has already checked both are integers >= 1. */
export function parsePage (query: PageQuery): { page: number, limit: number } {
  return { page: query._page ?? 1, limit: Math.min(query._limit ?? MAX_LIMIT, MAX_LIMIT) }
}

/**
 * Slices rows that are already in their documented order; `count` is the total, not the page size.
 * `format` maps the rows of the page only; without it the rows are the wire items already.
 */
export function paginate<R> (rows: readonly R[], query: PageQuery): Page<R>
export function paginate<R, T> (rows: readonly R[], query: PageQuery, format: (row: R) => T): Page<T>
export function paginate<R, T> (rows: readonly R[], query: PageQuery, format?: (row: R) => T): Page<R | T> {
  const { page, limit } = parsePage(query)
  const start = (page - 1) * limit
  const slice = start >= rows.length ? [] : rows.slice(start, start + limit)
  return { items: format ? slice.map(format) : slice, meta: { count: rows.length, limit, page, hasnext: start + slice.length < rows.length && slice.length > 0 } }
}
