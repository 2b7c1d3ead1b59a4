// Hand-written entry point of @emqx-v3-api/sdk.
// Everything under ./generated is produced by `npm run generate` from
// openapi/v3.yaml and must not be edited; this file only adds a thin helper
// layer on top of it: createClient, paginate and toApiError.
import * as apis from './generated/apis/index.js'
import { BaseAPI, Configuration, ResponseError, type FetchAPI, type HTTPHeaders, type Middleware } from './generated/runtime.js'

export * from './generated/index.js'

type Apis = typeof apis
type ApiClassName = {
  [K in keyof Apis]: Apis[K] extends new (configuration?: Configuration) => BaseAPI ? K : never
}[keyof Apis]
type ClientKey<K> = K extends `${infer Tag}Api` ? Uncapitalize<Tag> : never

/** One instance of every generated API class, keyed by tag: BrokersApi → client.brokers. */
export type SdkClient = {
  readonly [K in ApiClassName as ClientKey<K>]: Apis[K] extends new (configuration?: Configuration) => infer I ? I : never
} & {
  /** The shared configuration, e.g. for `new SomeApi(client.configuration)`. */
  readonly configuration: Configuration
}

export interface SdkClientOptions {
  /** Base URL including the API prefix, e.g. `http://localhost:8081/api/v3`. */
  baseUrl: string
  /** Basic auth user: an application's app_id or a dashboard user name. */
  username?: string | undefined
  /** Basic auth password: the application's secret or the user's password. */
  password?: string | undefined
  /** fetch implementation; defaults to the global fetch (Node 18+, browsers). */
  fetchApi?: FetchAPI | undefined
  /** Headers sent with every request. */
  headers?: HTTPHeaders | undefined
  /** Generated-runtime middleware (pre/post/onError hooks). */
  middleware?: Middleware[] | undefined
}

/** Creates every API class of the spec with one shared Basic-auth configuration. */
export function createClient (options: SdkClientOptions): SdkClient {
  const configuration = new Configuration({
    basePath: options.baseUrl.replace(/\/+$/, ''),
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
    ...(options.fetchApi !== undefined && { fetchApi: options.fetchApi }),
    ...(options.headers !== undefined && { headers: options.headers }),
    ...(options.middleware !== undefined && { middleware: options.middleware })
  })
  const client: Record<string, unknown> = { configuration }
  for (const [name, value] of Object.entries(apis)) {
    if (typeof value === 'function' && value.prototype instanceof BaseAPI && name.endsWith('Api')) {
      const Api = value as unknown as new (configuration: Configuration) => BaseAPI
      client[name.charAt(0).toLowerCase() + name.slice(1, -3)] = new Api(configuration)
    }
  }
  return client as SdkClient
}

/** The `meta` of a paginated list: `count` is the total number of matching rows. */
export interface PaginateMeta {
  count?: number | undefined
  limit?: number | undefined
  page?: number | undefined
  /** whether rows follow this page (EMQX v4's name) */
  hasnext?: boolean | undefined
  /** sent with `hasnext`: pass it as `_cursor` for the next page */
  cursor?: string | undefined
}

/** The `{ items, meta }` envelope of a paginated list. */
export interface PaginatePage<T> {
  items?: T[] | undefined
  meta?: PaginateMeta | undefined
}

/**
 * Query parameters of one page, named as on the wire so they can be spread into a request: the first
 * page by `_page`, the next ones by `_cursor` when the list gives one (then `_page` is left out).
 */
export interface PaginateRequest {
  _page?: number
  _limit: number
  _cursor?: string
}

export interface PaginateOptions {
  /** Page size asked for (`_limit`); the server may cap it, `meta.limit` wins. Default 1000. */
  limit?: number | undefined
  /** First page to fetch (`_page`). Default 1. */
  startPage?: number | undefined
}

/**
 * Yields every item of a paginated list, page after page. A list that answers `meta.cursor` is
 * followed by its cursor (rows that come or go meanwhile neither repeat nor get skipped) until
 * `meta.hasnext` is false; one without cursors by `_page`, until `meta.count` items have been
 * covered or a short page arrives.
 *
 *   for await (const c of paginate((p) => client.connections.listConnections(p), { limit: 100 })) { ... }
 */
export async function * paginate<T> (
  fetchPage: (request: PaginateRequest) => Promise<PaginatePage<T>>,
  { limit = 1000, startPage = 1 }: PaginateOptions = {}
): AsyncGenerator<T, void, undefined> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('paginate: limit must be a positive integer')
  let request: PaginateRequest = { _page: startPage, _limit: limit }
  for (;;) {
    const { items = [], meta = {} } = await fetchPage(request)
    yield * items
    if (meta.hasnext === false || items.length === 0) return
    if (meta.cursor !== undefined) {
      request = { _limit: limit, _cursor: meta.cursor }
      continue
    }
    const current = meta.page ?? request._page ?? startPage
    const size = meta.limit ?? limit
    if (meta.hasnext !== true && items.length < size) return
    if (meta.hasnext !== true && meta.count !== undefined && current * size >= meta.count) return
    request = { _page: current + 1, _limit: limit }
  }
}

/** Error body of the API: `{ message, code }` (code is the EMQ X result code). */
export interface HttpErrorBody {
  message: string
  code?: number | undefined
}

/** An HTTP error answer of the API. */
export interface HttpError {
  status: number
  body: HttpErrorBody
}

/**
 * Turns a rejected call into `{ status, body: { message, code } }` when the
 * server answered with an HTTP error (the generated client throws
 * `ResponseError`); returns undefined for anything else (network failure,
 * missing required parameter, ...), which the caller should rethrow.
 */
export async function toApiError (err: unknown): Promise<HttpError | undefined> {
  if (!(err instanceof ResponseError)) return undefined
  const { status, statusText } = err.response
  let text = ''
  try {
    text = await err.response.clone().text()
  } catch {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {}
  if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { message?: unknown }).message === 'string') {
    const { message, code } = parsed as { message: string, code?: unknown }
    return { status, body: typeof code === 'number' ? { message, code } : { message } }
  }
  return { status, body: { message: text || statusText || `HTTP ${status}` } }
}
