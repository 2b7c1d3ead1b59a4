// A page in a real (Debian) Chromium receives the live event stream through the browser's own
// EventSource: the page is served by the test on the API's origin, the browser answers the API's
// Basic challenge, and MQTT clients connecting and leaving show up on the page.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { launchChromium, noChromium } from './chromium.js'
import { startTestNode, ADMIN } from '../helpers.js'

const PAGE = `<!doctype html><meta charset="utf-8"><title>live events</title><ul id="log"></ul>
<script>
  const es = new EventSource('/api/v3/events?type=client.')
  es.onopen = () => { document.body.dataset.open = 'yes' }
  es.onmessage = (m) => {
    const e = JSON.parse(m.data)
    const li = document.createElement('li')
    li.textContent = e.type + ' ' + e.clientid + (e.data.reason ? ' ' + e.data.reason : '')
    document.getElementById('log').append(li)
  }
</script>`

test('a page in Chromium receives the event stream', { skip: noChromium, timeout: 120_000 }, async (t) => {
  const n = await startTestNode(t)
  const origin = `http://127.0.0.1:${n.node.ports.api}`
  const { context, close } = await launchChromium({ httpCredentials: { username: ADMIN.user, password: ADMIN.pass } })
  t.after(close)
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', e => { problems.push(e.message) })
  await page.route(`${origin}/live-events.html`, route => route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }))
  await page.goto(`${origin}/live-events.html`)
  await page.locator('body[data-open="yes"]').waitFor({ state: 'attached', timeout: 15000 })

  const c = await n.client({ clientId: 'browser-1' })
  await page.locator('#log li', { hasText: 'client.connected browser-1' }).waitFor({ timeout: 10000 })
  await c.endAsync()
  await page.locator('#log li', { hasText: 'client.disconnected browser-1 normal' }).waitFor({ timeout: 10000 })
  assert.deepEqual(await page.locator('#log li').allInnerTexts(), ['client.connected browser-1', 'client.disconnected browser-1 normal'])
  assert.deepEqual(problems, [])
})
