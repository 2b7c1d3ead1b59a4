/** GET /api/v3/: every operation, derived from the spec, sorted by descr as minirest did (emqx-v3-semantics §1.6). */
import { operations } from '../../../generated/operations.js'
import type { Ctx, Input, Reply } from '../types.js'

export function listApi (): Reply<'list_api'> {
  return operations
    .filter(op => op.indexed)
    .map(op => ({ name: op.emqxName, method: op.method as 'GET' | 'POST' | 'PUT' | 'DELETE', path: op.emqxPath, descr: op.descr }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.descr), Buffer.from(b.descr)))
}

export const apiIndex = {
  async list_api (_input: Input<'list_api'>, _ctx: Ctx) { return listApi() }
}
