// The error catalog (src/core/errors.ts) and openapi/README.md list the same codes, and the spec's
// Error schema allows exactly those (fastify's errors.test.js, applied to EMQ X's codes).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { toApiError } from '../../src/api/errors.js'
import { ReturnCode, errors } from '../../src/core/errors.js'
import { StoreUnavailableError } from '../../src/store/store.js'
import { spec } from '../contract/spec-helpers.js'

const errorCodes = Object.values(ReturnCode).filter(c => c !== 0).sort((a, b) => a - b)

test('every catalog code is in openapi/README.md and nothing else is', () => {
  const readme = readFileSync(new URL('../../openapi/README.md', import.meta.url), 'utf8')
  const documented = [...readme.matchAll(/^\| (\d{3}) \|/gm)].map(m => Number(m[1]))
  assert.deepEqual(documented, errorCodes)
})

test('the spec\'s Error schema allows exactly the catalog codes', () => {
  const schemas = (spec.components as { schemas: Record<string, { properties: { code: { enum: number[] } } }> }).schemas
  assert.deepEqual(schemas.ErrorBody?.properties.code.enum, errorCodes)
})

test('store outages map to 503 store_unavailable', () => {
  const e = toApiError(new StoreUnavailableError())
  assert.equal(e?.status, 503)
  assert.equal(e?.message, 'store_unavailable')
})

test('malformed JSON maps to 400 with code 109, an oversized body to 413', () => {
  assert.equal(toApiError({ type: 'entity.parse.failed', status: 400 })?.code, 109)
  assert.equal(toApiError({ type: 'entity.too.large', status: 413 })?.status, 413)
})

test('validator errors: missing field is 107, wrong type is 108', () => {
  const missing = toApiError({ status: 400, errors: [{ path: '/body/who', message: 'must have required property \'who\'', errorCode: 'required.openapi.validation' }] })
  assert.equal(missing?.code, 107)
  const wrong = toApiError({ status: 400, errors: [{ path: '/query/_page', message: 'must be integer', errorCode: 'type.openapi.validation' }] })
  assert.equal(wrong?.code, 108)
})

test('401 carries a Basic challenge', () => {
  assert.match(errors.unauthorized().headers['WWW-Authenticate'] ?? '', /^Basic realm="/)
})

test('an unknown error is not mapped (it becomes a logged 500)', () => {
  assert.equal(toApiError(new Error('boom')), null)
})

test('a damaged stored hash is "no match", never a throw', async () => {
  const { verifySecret, hashSecret } = await import('../../src/services/secrets.js')
  assert.equal(await verifySecret('scrypt$0$0$0$AAAA$AAAA', 'x'), false)
  assert.equal(await verifySecret('scrypt$16384$8$1$c2FsdA==$', 'x'), false)
  assert.equal(await verifySecret('nonsense', 'x'), false)
  const good = await hashSecret('right')
  assert.equal(await verifySecret(good, 'right'), true)
  assert.equal(await verifySecret(good, 'wrong'), false)
})
