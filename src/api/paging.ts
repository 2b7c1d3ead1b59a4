/** The page shape of every list (DECISIONS.md); query.ts orders, filters and pages the rows. */
import type { PageMetaWire } from '../core/wire.js'

export const MAX_LIMIT = 10000

/** the spec's `*Page` shapes: `items` and `meta` */
export interface Page<T> { items: T[], meta: PageMetaWire }

export interface PageQuery { _page?: number, _limit?: number }

/** For a list paged by its store (the audit log). The validator has already checked both are integers >= 1. */
export function parsePage (query: PageQuery): { page: number, limit: number } {
  return { page: query._page ?? 1, limit: Math.min(query._limit ?? MAX_LIMIT, MAX_LIMIT) }
}
