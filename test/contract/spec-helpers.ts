// Reads openapi/v3.yaml for the contract tests: its examples, and an ajv compiler that resolves
// the spec's own $refs. OpenAPI 3.0 schema keywords ajv does not know (example, nullable) handled.
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

type Json = Record<string, unknown>
export const spec = parse(readFileSync(new URL('../../openapi/v3.yaml', import.meta.url), 'utf8')) as Json
const components = spec.components as Json

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true })
addFormats(ajv)
ajv.addSchema({ $id: 'spec', components }, 'spec')

/** Deep copy with local refs pointed at the registered spec, and `nullable` as a type union. */
function rewrite (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite)
  if (node === null || typeof node !== 'object') return node
  const out: Json = {}
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) out[k] = `spec${v}`
    else if (k === 'example' || k === 'examples') continue
    else out[k] = rewrite(v)
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null']
  return out
}

export function compileSchema (schema: unknown): ValidateFunction {
  return ajv.compile(rewrite(schema) as Json)
}

function deref<T> (node: T): T {
  const ref = (node as { $ref?: string }).$ref
  if (typeof ref !== 'string') return node
  const path = ref.replace(/^#\//, '').split('/')
  let cur: unknown = spec
  for (const p of path) cur = (cur as Json)[p]
  return deref(cur as T)
}

export interface Example { where: string, schema: unknown, value: unknown }

function mediaExamples (where: string, media: Json | undefined): Example[] {
  const json = media?.['application/json'] as Json | undefined
  if (!json?.schema) return []
  const out: Example[] = []
  if ('example' in json) out.push({ where, schema: json.schema, value: json.example })
  for (const [name, ex] of Object.entries((json.examples ?? {}) as Json)) {
    out.push({ where: `${where} (${name})`, schema: json.schema, value: (deref(ex) as Json).value })
  }
  return out
}

export function specExamples (): Example[] {
  const out: Example[] = []
  for (const [path, item] of Object.entries(spec.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      const o = op as Json
      const id = `${method.toUpperCase()} ${path} ${String(o.operationId)}`
      const body = o.requestBody ? deref(o.requestBody as Json) : undefined
      out.push(...mediaExamples(`${id} request`, body?.content as Json | undefined))
      for (const [status, r] of Object.entries((o.responses ?? {}) as Json)) {
        out.push(...mediaExamples(`${id} ${status}`, (deref(r as Json)).content as Json | undefined))
      }
    }
  }
  for (const [name, r] of Object.entries(components.responses as Json)) {
    out.push(...mediaExamples(`components.responses.${name}`, (r as Json).content as Json | undefined))
  }
  for (const [name, s] of Object.entries(components.schemas as Json)) {
    if ('example' in (s as Json)) out.push({ where: `components.schemas.${name}`, schema: s, value: (s as Json).example })
  }
  return out
}
