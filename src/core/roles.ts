/**
 * API roles (EMQX v5's names), lowest first: a viewer may read, a publisher may also publish and
 * subscribe on behalf of clients, an administrator may do everything. Which operation needs which
 * role is data in the spec (`x-required-role`), enforced by src/api/roles.ts.
 */
import type { Role } from '../../generated/operations.js'

export type { Role }

export const ROLES: readonly Role[] = ['viewer', 'publisher', 'administrator']

/** What users and apps from before roles existed became, and what a new one gets without a role (as EMQX v5). */
export const DEFAULT_ROLE: Role = 'administrator'

export function isRole (v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v)
}

/** true when `have` is `need` or above it */
export function covers (have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need)
}
