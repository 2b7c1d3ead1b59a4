// Every example in openapi/v3.yaml validates against the schema it documents (ajv, all formats).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { specExamples, compileSchema } from './spec-helpers.js'

const examples = specExamples()

test('the spec has examples for every operation that has a 200 JSON body or a request body', () => {
  assert.ok(examples.length >= 60, `only ${examples.length} examples found`)
})

for (const ex of examples) {
  test(`example ${ex.where} is valid`, () => {
    const validate = compileSchema(ex.schema)
    const ok = validate(ex.value)
    assert.ok(ok, `${ex.where}: ${JSON.stringify(validate.errors, null, 2)}`)
  })
}
