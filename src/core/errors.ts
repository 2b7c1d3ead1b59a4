/**
 * The one error catalog. Every error answers `{"message": "<reason>", "code": <n>}` with an honest
 * HTTP status (DECISIONS.md "Errors"); codes are EMQ X's result codes (include/emqx_mgmt.hrl).
 * openapi/README.md lists the same table; test/unit/errors.test.ts keeps the two in step.
 * It sits below every layer: services and the cluster throw these, src/api/errors.ts answers them.
 */

export const ReturnCode = {
  SUCCESS: 0,
  BADRPC: 101,
  UNKNOWN_ERROR: 102,
  BAD_CREDENTIALS: 103,
  EMPTY_CREDENTIALS: 104,
  USER_NOT_FOUND: 105,
  ADMIN_UNDELETABLE: 106,
  MISSING_PARAMETER: 107,
  BAD_PARAMETER: 108,
  NOT_JSON: 109,
  PLUGIN_ALREADY_STARTED: 110,
  PLUGIN_NOT_STARTED: 111,
  CLIENT_NOT_ONLINE: 112,
  USER_EXISTS: 113,
  OLD_PASSWORD_WRONG: 114,
  BAD_TOPIC: 115,
  /** not EMQ X 3.0's: the caller's role does not allow the operation (EMQX v5's roles) */
  FORBIDDEN: 116
} as const
export type ReturnCodeValue = typeof ReturnCode[keyof typeof ReturnCode]

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: ReturnCodeValue, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'ApiError'
  }
}

export const REALM = 'emqx-v3-api'

export const errors = {
  missing: (what: string) => new ApiError(400, ReturnCode.MISSING_PARAMETER, what),
  badParam: (what: string) => new ApiError(400, ReturnCode.BAD_PARAMETER, what),
  badParamCode: (what: string, code: ReturnCodeValue) => new ApiError(400, code, what),
  notJson: (what = 'request body is not valid JSON') => new ApiError(400, ReturnCode.NOT_JSON, what),
  badTopic: (what = 'bad_topic') => new ApiError(400, ReturnCode.BAD_TOPIC, what),
  unauthorized: () => new ApiError(401, ReturnCode.BAD_CREDENTIALS, 'unauthorized', { 'WWW-Authenticate': `Basic realm="${REALM}"` }),
  forbidden: () => new ApiError(403, ReturnCode.FORBIDDEN, 'forbidden'),
  notFound: (what = 'not_found', code: ReturnCodeValue = ReturnCode.UNKNOWN_ERROR) => new ApiError(404, code, what),
  clientNotFound: () => new ApiError(404, ReturnCode.CLIENT_NOT_ONLINE, 'not_found'),
  userNotFound: () => new ApiError(404, ReturnCode.USER_NOT_FOUND, 'user_not_found'),
  conflict: (what: string, code: ReturnCodeValue = ReturnCode.UNKNOWN_ERROR) => new ApiError(409, code, what),
  tooLarge: () => new ApiError(413, ReturnCode.UNKNOWN_ERROR, 'body_too_large'),
  unsupportedMediaType: () => new ApiError(415, ReturnCode.NOT_JSON, 'content type must be application/json'),
  tooManyRequests: (retryAfterSec: number) => new ApiError(429, ReturnCode.UNKNOWN_ERROR, 'too_many_requests', { 'Retry-After': String(retryAfterSec) }),
  /** a node that had to take part did not answer in time (cluster) */
  badRpc: () => new ApiError(503, ReturnCode.BADRPC, 'badrpc'),
  storeUnavailable: () => new ApiError(503, ReturnCode.UNKNOWN_ERROR, 'store_unavailable'),
  busy: () => new ApiError(503, ReturnCode.UNKNOWN_ERROR, 'busy', { 'Retry-After': '1' })
}
