// Debian's Chromium driven by playwright-core (playwright's own browser downloads are never used), and Swagger UI steps.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** false, or why browser tests are skipped (node:test prints it) */
export const noChromium: false | string = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`

/** `httpCredentials`: what the browser answers a Basic challenge with (as a user typing them in would) */
export async function launchChromium (opts: { httpCredentials?: { username: string, password: string } } = {}): Promise<{ context: BrowserContext, close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'))
  // launchPersistentContext is playwright's way of giving Chromium --user-data-dir (a fresh one here)
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    ...(opts.httpCredentials !== undefined ? { httpCredentials: opts.httpCredentials } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  return {
    context,
    async close () {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/** Authorize dialog: log out of whatever was set, then log in as user/pass. */
export async function authorize (page: Page, user: string, pass: string): Promise<void> {
  await page.locator('.auth-wrapper button.authorize').click()
  const modal = page.locator('.modal-ux')
  await modal.waitFor()
  // the Logout button's accessible name is "Remove authorization"
  const logout = modal.locator('button.modal-btn', { hasText: 'Logout' })
  if (await logout.count() > 0) await logout.click()
  await modal.locator('input[type=text]').fill(user)
  await modal.locator('input[type=password]').fill(pass)
  await modal.locator('button.modal-btn.authorize').click()
  await logout.waitFor()
  await modal.locator('button.btn-done').click()
  await modal.waitFor({ state: 'detached' })
}

/**
 * Executes the (already expanded, "Try it out") operation whose request path ends with `path`;
 * returns the status and the body that the page shows for it.
 */
export async function execute (page: Page, opId: string, path: string): Promise<{ status: string, body: string }> {
  const op = page.locator(`#${opId}`)
  const executed = page.waitForResponse(r => new URL(r.url()).pathname.endsWith(path))
  await op.locator('button.execute').click()
  const res = await executed
  const row = op.locator('.live-responses-table .response').first()
  // a response shown earlier stays on the page until this one is rendered
  await row.locator('.response-col_status', { hasText: String(res.status()) }).waitFor()
  return {
    status: (await row.locator('.response-col_status').innerText()).trim(),
    body: await row.locator('.response-col_description .highlight-code, .response-col_description pre').first().innerText()
  }
}
