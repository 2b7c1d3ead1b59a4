/**
 * Swagger UI at /api-docs from the swagger-ui-dist package: no request to any outside host, no
 * validator badge, relative links only (works under a reverse-proxy prefix).
 */
import express, { type Router } from 'express'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { specText } from './spec.js'

const require = createRequire(import.meta.url)
const distDir = dirname(require.resolve('swagger-ui-dist/package.json'))

const INDEX = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>EMQ X v3 API</title>
  <link rel="stylesheet" href="./swagger-ui.css">
  <link rel="icon" type="image/png" href="./favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="./swagger-ui-bundle.js"></script>
  <script src="./init.js"></script>
</body>
</html>
`

// The spec's server URL is /api/v3; resolve it against where this page is served, so a proxy prefix carries over.
const INIT = `window.ui = SwaggerUIBundle({
  url: './v3.yaml',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: false,
  requestInterceptor: function (req) {
    var base = window.location.pathname.replace(/\\/api-docs\\/?.*$/, '')
    if (req.url.indexOf(window.location.origin + '/api/v3') === 0 && base) {
      req.url = window.location.origin + base + req.url.slice(window.location.origin.length)
    }
    // no browser credentials, only the Authorization header set by Authorize: with them, a 401 with a
    // Basic challenge makes the browser pop up its own login dialog (and a headless one hang) instead of showing the 401
    req.credentials = 'omit'
    return req
  }
})
`

export function swaggerUi (): Router {
  const router = express.Router({ strict: true })
  router.get('/', (req, res) => {
    // relative asset links need the trailing slash
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) return res.redirect(301, `${req.baseUrl.split('/').pop()}/`)
    res.type('html').send(INDEX)
  })
  router.get('/init.js', (_req, res) => { res.type('application/javascript').send(INIT) })
  router.get('/v3.yaml', (_req, res) => { res.type('application/yaml').send(specText()) })
  router.use(express.static(distDir, { index: false, fallthrough: false }))
  return router
}
