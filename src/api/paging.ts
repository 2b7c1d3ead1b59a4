/** The page shape of every list (DECISIONS.md); query.ts orders, filters and pages the rows. */
import type { PageMetaWire } from '../core/wire.js'

export const MAX_LIMIT = 10000

/** the spec's `*Page` shapes: `items` and `meta` */
export interface Page<T> { items: T[], meta: PageMetaWire }
