/** Pagination as EMQ X's emqx_mgmt_api:paginate, with a stable order and a capped limit (DECISIONS.md). */
export const MAX_LIMIT = 10000

export interface PageQuery { _page?: number, _limit?: number }
export interface PageMeta { count: number, limit: number, page: number }
export interface Page<T> { items: T[], meta: PageMeta }

/** The validator has already checked both are integers >= 1. */
export function parsePage (query: PageQuery): { page: number, limit: number } {
  return { page: query._page ?? 1, limit: Math.min(query._limit ?? MAX_LIMIT, MAX_LIMIT) }
}

/** Slices rows that are already in their documented order; `count` is the total, not the page size. */
export function paginate<R, T> (rows: readonly R[], query: PageQuery, format: (row: R) => T): Page<T> {
  const { page, limit } = parsePage(query)
  const start = (page - 1) * limit
  const items = start >= rows.length ? [] : rows.slice(start, start + limit).map(format)
  return { items, meta: { count: rows.length, limit, page } }
}
