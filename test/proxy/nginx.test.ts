// The example configuration docs/nginx.conf, run by a real nginx in front of a real node: the API, the
// spec, Swagger UI (also in a browser, when there is one) and MQTT over WebSocket under /mqtt-admin/.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { ADMIN, startTestNode } from '../helpers.js'
import { nextMessage } from '../support/mqtt.js'
import { eventually } from '../support/wait.js'
import { authorize, execute, launchChromium, noChromium } from '../browser/chromium.js'
import { freePort } from '../support/ports.js'

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx'
const noNginx = existsSync(NGINX) ? false : `no nginx at ${NGINX} (apt-get install nginx, or set NGINX_PATH)`
const DOC = new URL('../../docs/nginx.conf', import.meta.url)
const AUTH = { authorization: 'Basic ' + Buffer.from(`${ADMIN.user}:${ADMIN.pass}`).toString('base64') }

/** docs/nginx.conf with only its ports replaced; every replaced line must be there exactly once. */
function exampleConf (ports: { listen: number, api: number, ws: number }): string {
  let text = readFileSync(DOC, 'utf8')
  const swap = (from: string, to: string): void => {
    assert.equal(text.split(from).length, 2, `docs/nginx.conf has "${from}" once`)
    text = text.replace(from, to)
  }
  swap('listen 80;', `listen 127.0.0.1:${ports.listen};`)
  swap('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.api};`)
  swap('server 127.0.0.1:8083;', `server 127.0.0.1:${ports.ws};`)
  return text
}

/** nginx in the foreground, one process, every file it writes in a temp dir: runs beside anything else. */
async function startNginx (t: TestContext, ports: { api: number, ws: number }): Promise<{ origin: string, accessLog: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-test-'))
  const listen = await freePort()
  const accessLog = join(dir, 'access.log')
  const conf = `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  # what nginx sent upstream as X-Forwarded-For, per request
  log_format forwarded '$request_uri xff="$proxy_add_x_forwarded_for"';
  access_log ${accessLog} forwarded;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${exampleConf({ listen, ...ports })}
}
`
  writeFileSync(join(dir, 'nginx.conf'), conf)
  // -e: the error log from the very start, before the configuration is read (not the system's)
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit')
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const origin = `http://127.0.0.1:${listen}`
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${readFileSync(join(dir, 'error.log'), 'utf8')}`)
    return (await fetch(`${origin}/mqtt-admin/status`)).ok
  }, 10_000)
  return { origin, accessLog }
}

test('behind nginx under /mqtt-admin/ (docs/nginx.conf)', { skip: noNginx, timeout: 120_000 }, async (t) => {
  const n = await startTestNode(t, { NODE_NAME: 'emqx@behind.nginx', TRUST_PROXY: 'true' })
  const { origin, accessLog } = await startNginx(t, { api: n.node.ports.api, ws: n.node.ports.ws as number })
  const prefix = `${origin}/mqtt-admin`

  await t.test('the API, with Basic auth', async () => {
    const r = await fetch(`${prefix}/api/v3/brokers`, { headers: AUTH })
    assert.equal(r.status, 200)
    assert.equal((await r.json() as Array<{ node: string }>)[0]?.node, 'emqx@behind.nginx')
    assert.equal((await fetch(`${prefix}/api/v3/brokers`)).status, 401)
  })

  await t.test('/status', async () => {
    const r = await fetch(`${prefix}/status`)
    assert.equal(r.status, 200)
    assert.equal((await r.json() as { node: string }).node, 'emqx@behind.nginx')
  })

  await t.test('the spec, and Swagger UI whose relative links resolve under the prefix', async () => {
    const spec = await fetch(`${prefix}/api-docs/v3.yaml`)
    assert.equal(spec.status, 200)
    assert.match(await spec.text(), /^openapi: 3\.0\.3$/m)
    // without the trailing slash: a relative redirect that stays under the prefix
    const bare = await fetch(`${prefix}/api-docs`, { redirect: 'manual' })
    assert.equal(bare.status, 301)
    assert.equal(new URL(bare.headers.get('location') ?? '', `${prefix}/api-docs`).href, `${prefix}/api-docs/`)
    const page = await fetch(`${prefix}/api-docs/`)
    assert.equal(page.status, 200)
    const html = await page.text()
    const links = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map(m => m[1] as string)
    assert.ok(links.length >= 3)
    for (const link of links) {
      const url = new URL(link, `${prefix}/api-docs/`)
      assert.ok(url.pathname.startsWith('/mqtt-admin/api-docs/'), link)
      assert.equal((await fetch(url)).status, 200, link)
    }
  })

  await t.test('MQTT over WebSocket through nginx; the address shown is the one nginx appended', async (t) => {
    // the client claims an address of its own: nginx appends the one it saw (127.0.0.1), and with
    // TRUST_PROXY the server takes that right-most entry; the claimed one never shows
    const c = await mqtt.connectAsync(`ws://127.0.0.1:${new URL(origin).port}/mqtt-admin/mqtt`, {
      clientId: 'via-nginx', reconnectPeriod: 0, connectTimeout: 5000, wsOptions: { headers: { 'x-forwarded-for': '203.0.113.77' } }
    })
    t.after(() => c.endAsync(true))
    await c.subscribeAsync('proxied/t', { qos: 1 })
    const got = nextMessage(c)
    const pub = await fetch(`${prefix}/api/v3/mqtt/publish`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'proxied/t', payload: 'through nginx', qos: 1, client_id: 'api' })
    })
    assert.equal(pub.status, 200)
    assert.equal((await got).payload, 'through nginx')

    const conns = await fetch(`${prefix}/api/v3/connections`, { headers: AUTH })
    const mine = (await conns.json() as { items: Array<{ client_id: string, ipaddress: string }> }).items.find(x => x.client_id === 'via-nginx')
    assert.equal(mine?.ipaddress, '127.0.0.1')
    // nginx logs a proxied WebSocket when it ends
    await c.endAsync()
    const log = await eventually(() => readFileSync(accessLog, 'utf8').split('\n').find(l => l.startsWith('/mqtt-admin/mqtt ')))
    assert.equal(log, '/mqtt-admin/mqtt xff="203.0.113.77, 127.0.0.1"')
  })

  await t.test('Swagger UI in a browser under the prefix calls the API under the prefix', { skip: noChromium }, async (t) => {
    const { context, close } = await launchChromium()
    t.after(close)
    const page = await context.newPage()
    const requests: string[] = []
    page.on('request', r => { requests.push(r.url()) })
    await page.goto(`${prefix}/api-docs/`)
    await authorize(page, ADMIN.user, ADMIN.pass)
    const opId = 'operations-brokers-list_brokers'
    await page.locator(`#${opId} .opblock-summary-control`).click()
    await page.locator(`#${opId} button.try-out__btn`).click()
    const { status, body } = await execute(page, opId, '/api/v3/brokers')
    assert.equal(status, '200')
    assert.match(body, /emqx@behind\.nginx/)
    assert.ok(requests.includes(`${prefix}/api/v3/brokers`), requests.join('\n'))
    assert.deepEqual(requests.filter(u => !u.startsWith(`${prefix}/`) && !u.startsWith('data:')), [])
  })
})
