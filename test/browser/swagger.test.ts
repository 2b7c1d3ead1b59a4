// Swagger UI at /api-docs/ in a real (Debian) Chromium: it renders, lists every tag of the spec,
// authorizes with Basic credentials, "Try it out" reaches the live node, and it never calls another host.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { parse } from 'yaml'
import { authorize, execute, launchChromium, noChromium } from './chromium.js'
import { specText } from '../../src/api/spec.js'
import { startTestNode, ADMIN } from '../helpers.js'

const OUT = new URL('../../test-output/', import.meta.url)

test('Swagger UI in a real browser', { skip: noChromium, timeout: 120_000 }, async (t) => {
  const n = await startTestNode(t, { NODE_NAME: 'emqx@swagger.test' })
  const origin = `http://127.0.0.1:${n.node.ports.api}`
  const { context, close } = await launchChromium()
  t.after(close)
  const page = await context.newPage()

  const requests: string[] = []
  page.on('request', r => { requests.push(r.url()) })
  const problems: string[] = []
  page.on('console', m => { if (m.type() === 'error') problems.push(m.text()) })
  page.on('pageerror', e => { problems.push(e.message) })

  await t.test('the page loads and lists every tag of the spec', async () => {
    const res = await page.goto(`${origin}/api-docs/`)
    assert.equal(res?.status(), 200)
    await page.locator('.swagger-ui .info .title').waitFor()
    assert.match(await page.locator('.swagger-ui .info .title').innerText(), /EMQ X 3\.0 compatible management API/)
    const tags = (parse(specText()) as { tags: Array<{ name: string }> }).tags.map(x => x.name)
    assert.ok(tags.length > 10)
    for (const tag of tags) {
      assert.equal(await page.locator(`#operations-tag-${tag}`).count(), 1, `tag ${tag} is listed`)
    }
    mkdirSync(OUT, { recursive: true })
    await page.screenshot({ path: new URL('swagger-top.png', OUT).pathname })
  })

  const opId = 'operations-brokers-list_brokers'
  await t.test('Authorize (Basic admin/public), Try it out, Execute GET /brokers: 200 with the node', async () => {
    await authorize(page, ADMIN.user, ADMIN.pass)
    const op = page.locator(`#${opId}`)
    await op.locator('.opblock-summary-control').click()
    await op.locator('button.try-out__btn').click()
    const { status, body } = await execute(page, opId, '/api/v3/brokers')
    assert.equal(status, '200')
    assert.match(body, /"node": "emqx@swagger\.test"/)
    await op.locator('.live-responses-table').scrollIntoViewIfNeeded()
    await page.screenshot({ path: new URL('swagger.png', OUT).pathname })
  })

  await t.test('wrong credentials: the same call shows 401', async () => {
    await authorize(page, ADMIN.user, 'wrong')
    const { status, body } = await execute(page, opId, '/api/v3/brokers')
    assert.equal(status, '401')
    assert.match(body, /"message": "unauthorized"/)
  })

  await t.test('every request of the page went to the node itself, nothing broke', () => {
    assert.ok(requests.length > 3)
    // data: URLs (inline images of the stylesheet) are no request to any host
    const foreign = requests.filter(u => !u.startsWith('data:') && new URL(u).host !== `127.0.0.1:${n.node.ports.api}`)
    assert.deepEqual(foreign, [])
    // a 401 on purpose is logged by the browser as a failed resource; anything else (CSP, script errors) is not expected
    assert.deepEqual(problems.filter(p => !/status of 401/.test(p)), [])
  })
})
