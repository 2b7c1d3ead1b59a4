// Generates the server stubs from openapi/v3.yaml:
//   generated/operations.ts  the operation table (operationId, method, path, EMQ X name and path, descr)
//   generated/handlers.ts    a typed handler interface, one method per operation, over generated/v3.d.ts
// The server binds `handlers satisfies Handlers<Ctx>`, so an operation without a handler, or a handler
// returning the wrong shape, does not compile. Every operation must name its role (x-required-role):
// the generation fails otherwise, so no operation reaches the server without one.
//   options: --spec <file> (default openapi/v3.yaml), --out <dir> (default generated)
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { parse } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values: args } = parseArgs({ options: { spec: { type: 'string' }, out: { type: 'string' } } })
const spec = parse(readFileSync(args.spec ?? join(root, 'openapi/v3.yaml'), 'utf8'))
const outDir = args.out ?? join(root, 'generated')
const METHODS = ['get', 'post', 'put', 'delete', 'patch']
const BANNER = '// DO NOT EDIT: generated from openapi/v3.yaml by scripts/generate-server.mjs (npm run generate)\n'

// EMQX v5's roles, lowest first; 'none' is only for an operation that needs no credentials
const ROLES = ['viewer', 'publisher', 'administrator']

function resolveSchema (s) {
  return s?.$ref ? spec.components.schemas[s.$ref.split('/').pop()] : s
}

/** The `role` field of an operation's request body: the role it asks for when absent (its default), or null without one. */
function bodyRole (op) {
  const schema = resolveSchema(op.requestBody?.content?.['application/json']?.schema)
  const role = schema?.properties?.role
  if (!role) return undefined
  return role.default ?? null
}

/** Every operation names the role it needs; the generation fails on one that does not. */
function requiredRole (op, path, method, secured) {
  const role = op['x-required-role']
  const where = `${method.toUpperCase()} ${path} (${op.operationId})`
  if (role === undefined) throw new Error(`${where} has no x-required-role (one of ${ROLES.join(', ')}, or none without credentials)`)
  if (role === 'none' && secured) throw new Error(`${where}: x-required-role none needs security: []`)
  if (role !== 'none' && !ROLES.includes(role)) throw new Error(`${where}: unknown x-required-role ${JSON.stringify(role)}`)
  if (role !== 'none' && !secured) throw new Error(`${where}: an operation without credentials has x-required-role none`)
  return role
}

function resolveParam (p) {
  if (!p.$ref) return p
  const name = p.$ref.split('/').pop()
  return spec.components.parameters[name]
}

const ops = []
/** operations whose body may be left out (requestBody.required false): their handlers get undefined then */
const optionalBody = new Set()
for (const [path, item] of Object.entries(spec.paths)) {
  for (const method of METHODS) {
    const op = item[method]
    if (!op) continue
    const params = (op.parameters ?? []).map(resolveParam)
    const secured = !(Array.isArray(op.security) && op.security.length === 0)
    const roleField = bodyRole(op)
    if (op.requestBody && op.requestBody.required !== true) optionalBody.add(op.operationId)
    ops.push({
      operationId: op.operationId,
      method: method.toUpperCase(),
      path,
      // express 5 route syntax; topics in path parameters may contain '/', see src/api/paths.ts
      expressPath: path.replace(/\{([^}]+)\}/g, ':$1'),
      emqxName: op['x-emqx-name'] ?? op.operationId,
      emqxPath: op['x-emqx-path'] ?? path.replace(/\{([^}]+)\}/g, ':$1'),
      descr: op.summary,
      indexed: op['x-emqx-index'] !== false,
      secured,
      requiredRole: requiredRole(op, path, method, secured),
      roleInBody: roleField !== undefined,
      defaultBodyRole: roleField ?? null,
      paginated: params.some(p => p.name === '_page'),
      pathParams: params.filter(p => p.in === 'path').map(p => p.name),
      queryParams: params.filter(p => p.in === 'query').map(p => p.name),
      hasBody: Boolean(op.requestBody),
      bodyOptional: optionalBody.has(op.operationId)
    })
  }
}
ops.sort((a, b) => a.operationId < b.operationId ? -1 : a.operationId > b.operationId ? 1 : 0)

const q = JSON.stringify
const table = ops.map(o => `  { operationId: ${q(o.operationId)}, method: ${q(o.method)}, path: ${q(o.path)}, expressPath: ${q(o.expressPath)}, emqxName: ${q(o.emqxName)}, emqxPath: ${q(o.emqxPath)}, descr: ${q(o.descr)}, indexed: ${o.indexed}, secured: ${o.secured}, requiredRole: ${q(o.requiredRole)}, roleInBody: ${o.roleInBody}, defaultBodyRole: ${q(o.defaultBodyRole)}, paginated: ${o.paginated}, pathParams: ${q(o.pathParams)}, queryParams: ${q(o.queryParams)}, hasBody: ${o.hasBody}, bodyOptional: ${o.bodyOptional} }`).join(',\n')

const operationsTs = `${BANNER}
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

/** EMQX v5's API roles, lowest first; 'none': the operation needs no credentials */
export type Role = 'viewer' | 'publisher' | 'administrator'

export type OperationId =
${ops.map(o => `  | ${q(o.operationId)}`).join('\n')}

export interface OperationEntry {
  readonly operationId: OperationId
  readonly method: HttpMethod
  /** OpenAPI path, relative to the server URL /api/v3 */
  readonly path: string
  readonly expressPath: string
  /** name in EMQ X's GET /api/v3/ listing */
  readonly emqxName: string
  /** path as EMQ X's listing shows it */
  readonly emqxPath: string
  readonly descr: string
  /** listed by GET /api/v3/ */
  readonly indexed: boolean
  /** needs HTTP Basic credentials */
  readonly secured: boolean
  /** x-required-role: the lowest role that may call it */
  readonly requiredRole: Role | 'none'
  /** the request body has a \`role\` field (a user's or app's role: never above the caller's) */
  readonly roleInBody: boolean
  /** the role the body asks for when it has no \`role\` (the schema's default), else null */
  readonly defaultBodyRole: Role | null
  readonly paginated: boolean
  readonly pathParams: readonly string[]
  readonly queryParams: readonly string[]
  readonly hasBody: boolean
  /** the body may be left out (requestBody.required false): an empty request then has none */
  readonly bodyOptional: boolean
}

export const operations: readonly OperationEntry[] = [
${table}
]
`

const methodLines = ops.map(o => {
  const k = q(o.operationId)
  const path = o.pathParams.length ? `operations[${k}]['parameters']['path']` : 'Record<string, never>'
  const query = o.queryParams.length ? `NonNullable<operations[${k}]['parameters']['query']>` : 'Record<string, never>'
  const body = !o.hasBody
    ? 'undefined'
    : optionalBody.has(o.operationId)
      ? `NonNullable<operations[${k}]['requestBody']>['content']['application/json'] | undefined`
      : `operations[${k}]['requestBody']['content']['application/json']`
  return `  /** ${o.method} ${o.path}: ${o.descr} */
  ${o.operationId}: (input: { path: ${path}, query: ${query}, body: ${body} }, ctx: Ctx) => Promise<Reply<${k}>>`
}).join('\n')

const handlersTs = `${BANNER}
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { operations } from './v3.js'
import type { OperationId } from './operations.js'

/** The JSON body of an operation's 200 answer; a RawReply for one that answers another media type. */
export type Reply<K extends OperationId> = operations[K]['responses'][200]['content'] extends { 'application/json': infer T } ? T : RawReply

/** An answer that is not JSON (a text format, a stream): the handler writes it itself. */
export interface RawReply {
  readonly raw: (req: IncomingMessage, res: ServerResponse) => void
}

/** One typed method per operation of openapi/v3.yaml. */
export interface Handlers<Ctx> {
${methodLines}
}

export type Input<K extends OperationId> = Parameters<Handlers<unknown>[K]>[0]
`

mkdirSync(outDir, { recursive: true })
writeFileSync(join(outDir, 'operations.ts'), operationsTs)
writeFileSync(join(outDir, 'handlers.ts'), handlersTs)
console.log(`generated/operations.ts, generated/handlers.ts: ${ops.length} operations`)
