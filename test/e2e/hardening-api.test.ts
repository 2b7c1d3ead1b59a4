// Hostile requests against the REST API: brute force, content types, oversized heads, CORS, strict
// query and body schemas. Real HTTP against a real node; docs/hardening.md lists each case.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { startTestNode, ADMIN, type TestNode } from '../helpers.js'
import { AuthLimiter, addressKey } from '../../src/api/auth-limiter.js'
import { handleClientError } from '../../src/api/client-error.js'

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: any }

/** One request from a chosen loopback source address (127.0.0.0/8 is all loopback on Linux). */
function call (n: TestNode, method: string, path: string, opts: { from?: string, auth?: { user: string, pass: string } | null, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  const url = new URL(n.base + path)
  const headers: Record<string, string> = { ...opts.headers }
  const auth = opts.auth === undefined ? ADMIN : opts.auth
  if (auth) headers.authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body))
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress: opts.from ?? '127.0.0.1', agent: false }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        let body: unknown = text
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const WRONG = { user: 'admin', pass: 'not-the-password' }
const json = { 'content-type': 'application/json' }

function assertSecurityHeaders (a: Answer, what: string): void {
  assert.equal(a.headers['x-content-type-options'], 'nosniff', what)
  assert.ok(a.headers['content-security-policy'], what)
  assert.equal(a.headers['x-frame-options'], 'SAMEORIGIN', what)
  assert.equal(a.headers['x-powered-by'], undefined, what)
}

test('brute force: 10 failures lock one address out with 429 + Retry-After; other addresses still work', async (t) => {
  const n = await startTestNode(t)
  for (let i = 0; i < 10; i++) {
    const r = await call(n, 'GET', '/brokers', { from: '127.0.0.2', auth: WRONG })
    assert.equal(r.status, 401, `attempt ${i + 1}`)
  }
  const locked = await call(n, 'GET', '/brokers', { from: '127.0.0.2' })
  assert.equal(locked.status, 429)
  assert.deepEqual(locked.body, { message: 'too_many_requests', code: 102 })
  const retry = Number(locked.headers['retry-after'])
  assert.ok(Number.isInteger(retry) && retry > 0 && retry <= 60, `Retry-After ${locked.headers['retry-after']}`)
  assertSecurityHeaders(locked, '429')
  // the lock covers every credential check from that address: POST /auth too
  const auth = await call(n, 'POST', '/auth', { from: '127.0.0.2', auth: null, headers: json, body: JSON.stringify({ username: 'admin', password: 'public' }) })
  assert.equal(auth.status, 429)
  // another address is not affected, and /status needs no credentials
  assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.1' })).status, 200)
  assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.9' })).status, 200)
  const status = await fetch(n.base.replace('/api/v3', '/status'))
  assert.equal(status.status, 200)
})

test('brute force: a success resets the count; no credentials is not an attempt; same 401 for every failure', async (t) => {
  const n = await startTestNode(t)
  const app = await n.api('POST', '/apps', { body: { app_id: 'ci', secret: 'ci-secret-123' } })
  assert.equal(app.status, 200)
  for (let i = 0; i < 9; i++) assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.3', auth: WRONG })).status, 401)
  assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.3' })).status, 200)
  for (let i = 0; i < 9; i++) assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.3', auth: WRONG })).status, 401)
  // requests without credentials are not guesses (a browser's first request has none)
  for (let i = 0; i < 20; i++) assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.3', auth: null })).status, 401)
  assert.equal((await call(n, 'GET', '/brokers', { from: '127.0.0.3' })).status, 200)
  const answers = await Promise.all([
    call(n, 'GET', '/brokers', { from: '127.0.0.4', auth: { user: 'ghost-app', pass: 'x' } }),
    call(n, 'GET', '/brokers', { from: '127.0.0.4', auth: { user: 'ci', pass: 'wrong-secret' } }),
    call(n, 'GET', '/brokers', { from: '127.0.0.4', auth: { user: 'admin', pass: 'wrong' } })
  ])
  for (const a of answers) {
    assert.equal(a.status, 401)
    assert.deepEqual(a.body, { message: 'unauthorized', code: 103 })
    assert.match(a.headers['www-authenticate'] ?? '', /^Basic realm=/)
    assertSecurityHeaders(a, '401')
  }
})

test('brute force: POST /auth failures count, malformed bodies do not', async (t) => {
  const n = await startTestNode(t)
  for (let i = 0; i < 15; i++) {
    const bad = await call(n, 'POST', '/auth', { from: '127.0.0.5', auth: null, headers: json, body: JSON.stringify({ username: 'admin' }) })
    assert.equal(bad.status, 400)
  }
  for (let i = 0; i < 10; i++) {
    const r = await call(n, 'POST', '/auth', { from: '127.0.0.5', auth: null, headers: json, body: JSON.stringify({ username: i % 2 ? 'admin' : 'nobody', password: 'guess' }) })
    assert.equal(r.status, 401)
  }
  const basic = await call(n, 'GET', '/brokers', { from: '127.0.0.5' })
  assert.equal(basic.status, 429)
  assert.ok(Number(basic.headers['retry-after']) > 0)
})

test('the limiter: lockouts double up to the cap, success keeps the history, memory is bounded', () => {
  let now = 0
  const l = new AuthLimiter({ maxFailures: 3, windowMs: 1000, lockMs: 10_000, maxLockMs: 40_000, maxEntries: 100, now: () => now })
  const offend = (): number => { for (let i = 0; i < 3; i++) l.failure('10.0.0.1'); return l.retryAfter('10.0.0.1') }
  assert.equal(offend(), 10)
  now += 10_001
  assert.equal(l.retryAfter('10.0.0.1'), 0)
  l.success('10.0.0.1')
  assert.equal(offend(), 20)
  now += 20_001
  assert.equal(offend(), 40)
  now += 40_001
  assert.equal(offend(), 40, 'capped')
  // failures spread wider than the window never lock
  now += 200_000
  for (let i = 0; i < 10; i++) { l.failure('10.0.0.2'); now += 600 }
  assert.equal(l.retryAfter('10.0.0.2'), 0)
  for (let i = 0; i < 1000; i++) l.failure(`10.1.${i >> 8}.${i & 255}`)
  assert.ok(l.size <= 100)
  assert.equal(addressKey('::ffff:127.0.0.2'), '127.0.0.2')
  assert.equal(addressKey('2001:db8:0:1::5'), addressKey('2001:db8:0:1:ffff::9'), 'one IPv6 /64 is one key')
  assert.notEqual(addressKey('2001:db8:0:1::5'), addressKey('2001:db8:0:2::5'))
})

test('bodies: only application/json, whatever the method; a body where none is expected is a 400', async (t) => {
  const n = await startTestNode(t)
  const publish = JSON.stringify({ topic: 'a/b', payload: 'x' })
  const cases: Array<[string, string, Record<string, string>, string]> = [
    ['POST', '/mqtt/publish', { 'content-type': 'text/plain' }, publish],
    ['POST', '/mqtt/publish', { 'content-type': 'application/x-www-form-urlencoded' }, 'topic=a&payload=x'],
    ['POST', '/mqtt/publish', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ['POST', '/mqtt/publish', {}, publish],
    ['GET', '/brokers', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'],
    ['DELETE', '/connections/c1', { 'content-type': 'text/plain' }, 'x'],
    ['PUT', `/nodes/${n.nodeName}/plugins/emqx_retainer/unload`, { 'content-type': 'multipart/form-data; boundary=x' }, '--x--']
  ]
  for (const [method, path, headers, body] of cases) {
    const r = await call(n, method, path, { headers, body })
    assert.equal(r.status, 415, `${method} ${path} ${JSON.stringify(headers)}`)
    assert.deepEqual(r.body, { message: 'content type must be application/json', code: 109 })
    assertSecurityHeaders(r, '415')
  }
  for (const [method, path] of [['GET', '/brokers'], ['DELETE', '/connections/c1'], ['PUT', `/nodes/${n.nodeName}/plugins/emqx_retainer/unload`]] as const) {
    const r = await call(n, method, path, { headers: json, body: '{"x":1}' })
    assert.deepEqual([r.status, r.body.code], [400, 108], `${method} ${path}`)
  }
  // no body, or an empty one, is fine whatever the content type says
  assert.equal((await call(n, 'GET', '/brokers', { headers: { 'content-type': 'text/plain' } })).status, 200)
  assert.equal((await call(n, 'GET', '/brokers', { headers: json, body: '' })).status, 200)
})

test('strict bodies: unknown fields and "1" for 1 are 400 on every operation that takes a body', async (t) => {
  const n = await startTestNode(t)
  const node = encodeURIComponent(n.nodeName)
  const bodies: Array<[string, string, Record<string, unknown>]> = [
    ['POST', '/mqtt/publish', { topic: 'a', payload: 'x' }],
    ['POST', '/mqtt/subscribe', { topic: 'a', client_id: 'c' }],
    ['POST', '/mqtt/unsubscribe', { topic: 'a', client_id: 'c' }],
    ['PUT', '/configs/emqx', { key: 'mqtt.allow_anonymous', value: 'false' }],
    ['PUT', `/nodes/${node}/configs/emqx`, { key: 'mqtt.allow_anonymous', value: 'false' }],
    ['POST', '/banned', { who: 'c', as: 'client_id' }],
    ['POST', '/apps', { app_id: 'x1' }],
    ['PUT', '/apps/x1', { status: true }],
    ['POST', '/users', { username: 'u1', password: 'p' }],
    ['PUT', '/users/u1', { tags: 't' }],
    ['PUT', '/change_pwd/u1', { old_pwd: 'p', new_pwd: 'q' }],
    ['POST', '/auth', { username: 'admin', password: 'public' }]
  ]
  for (const [method, path, body] of bodies) {
    const r = await call(n, method, path, { headers: json, body: JSON.stringify({ ...body, unexpected: 1 }) })
    assert.equal(r.status, 400, `${method} ${path}`)
    assert.equal(r.body.code, 108, `${method} ${path}`)
    assert.match(r.body.message, /additional properties/, `${method} ${path}`)
  }
  for (const body of [{ topic: 'a', payload: 'x', qos: '1' }, { topic: 'a', payload: 'x', retain: 'true' }, { topic: 'a', payload: 1 }]) {
    const r = await call(n, 'POST', '/mqtt/publish', { headers: json, body: JSON.stringify(body) })
    assert.deepEqual([r.status, r.body.code], [400, 108], JSON.stringify(body))
  }
  const expired = await call(n, 'POST', '/apps', { headers: json, body: JSON.stringify({ app_id: 'x2', expired: '99999999999' }) })
  assert.equal(expired.status, 400)
})

test('strict queries and paths: repeated, bracketed and unknown query keys, bad percent-encoding are 400', async (t) => {
  const n = await startTestNode(t)
  for (const path of ['/connections?_page=1&_page=2', '/connections?_page=1&_page=1', '/connections?_page[]=1', '/connections?_page[a]=1',
    '/banned/x?as=client_id&as=username', '/brokers?x=1', '/connections?unknown=1', '/connections?_page=99999999999999999999999999',
    '/connections/%E0%A4%A', '/connections/%zz', '/routes/a%2', '/banned/%C0%AF?as=client_id']) {
    const method = path.startsWith('/banned/') ? 'DELETE' : 'GET'
    const r = await call(n, method, path)
    assert.equal(r.status, 400, path)
    assert.equal(r.body.code, 108, path)
    assertSecurityHeaders(r, path)
  }
  assert.equal((await call(n, 'GET', '/connections?_page=1&_limit=5')).status, 200)
})

test('a request head over the limit is a 431 and the connection closes cleanly', async (t) => {
  const n = await startTestNode(t)
  const port = Number(new URL(n.base).port)
  const raw = await rawRequest(port, `GET /api/v3/brokers HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  assert.match(raw, /^HTTP\/1\.1 431 /)
  assert.match(raw, /\r\nConnection: close\r\n/i)
  // a long client id in the path: the same answer
  const long = await rawRequest(port, `GET /api/v3/sessions/${'c'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.match(long, /^HTTP\/1\.1 431 /)
})

test('handleClientError answers 431/400 as JSON with security headers and no reset', async (t) => {
  const server = http.createServer((_req, res) => res.end('ok'))
  server.on('clientError', handleClientError)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => server.close(() => resolve())))
  const port = (server.address() as net.AddressInfo).port
  // 70 KB: more than the socket buffers take at once, so an early close would reset the connection
  const big = await rawRequest(port, `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  const [head = '', body] = big.split('\r\n\r\n')
  assert.match(head, /^HTTP\/1\.1 431 Request Header Fields Too Large/)
  assert.match(head, /\r\nX-Content-Type-Options: nosniff/)
  assert.match(head, /\r\nContent-Security-Policy: /)
  assert.match(head, /\r\nContent-Type: application\/json/)
  assert.deepEqual(JSON.parse(body ?? ''), { message: 'request_header_fields_too_large', code: 102 })
  const bad = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n')
  assert.match(bad, /^HTTP\/1\.1 400 Bad Request/)
  assert.match(bad, /"code":102/)
})

test('security headers on /status, 404s and errors', async (t) => {
  const n = await startTestNode(t)
  const root = n.base.replace('/api/v3', '')
  for (const [what, a] of [
    ['/status', await call(n, 'GET', '/../../status')],
    ['404', await call(n, 'GET', '/nope')],
    ['404 outside the API', await fetchAnswer(`${root}/nope`)],
    ['400', await call(n, 'GET', '/connections?_page=0')],
    ['401', await call(n, 'GET', '/brokers', { auth: null })]
  ] as const) assertSecurityHeaders(a, what)
})

test('CORS: off unless configured; configured origins echoed one by one, never *', async (t) => {
  const off = await startTestNode(t)
  const plain = await call(off, 'GET', '/brokers', { headers: { origin: 'https://evil.example' } })
  assert.equal(plain.status, 200)
  assert.equal(plain.headers['access-control-allow-origin'], undefined)
  const preflightOff = await call(off, 'OPTIONS', '/brokers', { auth: null, headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } })
  assert.equal(preflightOff.headers['access-control-allow-origin'], undefined)
  assert.notEqual(preflightOff.status, 204)

  const on = await startTestNode(t, { CORS_ORIGINS: 'https://ui.example, *' })
  const ok = await call(on, 'GET', '/brokers', { headers: { origin: 'https://ui.example' } })
  assert.equal(ok.headers['access-control-allow-origin'], 'https://ui.example')
  assert.equal(ok.headers['access-control-allow-credentials'], 'true')
  assert.match(String(ok.headers.vary), /Origin/)
  const pre = await call(on, 'OPTIONS', '/brokers', { auth: null, headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' } })
  assert.equal(pre.status, 204)
  assert.equal(pre.headers['access-control-allow-origin'], 'https://ui.example')
  const other = await call(on, 'GET', '/brokers', { headers: { origin: 'https://evil.example' } })
  assert.equal(other.headers['access-control-allow-origin'], undefined)
  assert.match(String(other.headers.vary), /Origin/)
  const star = await call(on, 'GET', '/brokers', { headers: { origin: '*' } })
  assert.equal(star.headers['access-control-allow-origin'], undefined)
})

function rawRequest (port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text))
    let got = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { got += d })
    socket.on('error', reject)
    socket.on('close', () => resolve(got))
  })
}

async function fetchAnswer (url: string): Promise<Answer> {
  const r = await fetch(url)
  const headers: http.IncomingHttpHeaders = {}
  r.headers.forEach((v, k) => { headers[k] = v })
  return { status: r.status, headers, body: await r.text() }
}
