/** openapi/v3.yaml, loaded once; the validator, the index and Swagger UI all read this one spec. */
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { findUp } from '../package-root.js'

export const SPEC_PATH = findUp('openapi/v3.yaml')

let cached: string | null = null

export function specText (): string {
  cached ??= readFileSync(SPEC_PATH, 'utf8')
  return cached
}

/** A fresh object each call: the validator mutates what it is given. */
export function loadSpec (): Record<string, unknown> {
  return parse(specText()) as Record<string, unknown>
}

let schemas: Record<string, { properties?: Record<string, unknown> }> | null = null

/** A row schema's property names in the spec's order: what `fields=` may pick of that list (query.ts). */
export function rowFields (schema: string): readonly string[] {
  schemas ??= ((loadSpec().components as { schemas?: typeof schemas } | undefined)?.schemas ?? {})
  const props = schemas?.[schema]?.properties
  if (props === undefined) throw new Error(`openapi/v3.yaml has no schema ${schema} with properties`)
  return Object.keys(props)
}
