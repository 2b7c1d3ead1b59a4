#!/usr/bin/env node
// Generates the typed client SDK (sdk/src/generated) from openapi/v3.yaml with
// openapi-generator's typescript-fetch generator, then copies the spec's
// info.version into sdk/package.json. Each operation's x-required-role is written into its
// description first, so the SDK's doc comments say which API role a call needs.
//
//   node scripts/generate-sdk.mjs            regenerate sdk/src/generated
//   node scripts/generate-sdk.mjs --check    exit 1 if sdk/src/generated is not what the spec generates
//   options: --spec <file> (default openapi/v3.yaml), --sdk <dir> (default sdk), --verbose
//
// sdk/src/generated is wiped before every run, so operations removed from the
// spec disappear. The output is deterministic (no timestamps). The generator
// version and jar location are pinned in openapitools.json (see
// scripts/ensure-openapi-jar.mjs). The jar is run with `java -jar` directly:
// the openapi-generator-cli wrapper starts two extra JVMs per call.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { ensureOpenApiJar } from './ensure-openapi-jar.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

// typescript-fetch options, see `java -jar <jar> config-help -g typescript-fetch`.
// Values are passed as strings; do NOT pass withInterfaces=false: the string
// "false" switches the interfaces ON (left at its default, off).
export const ADDITIONAL_PROPERTIES = {
  importFileExtension: '.js', // ESM: relative imports end in .js (moduleResolution nodenext)
  supportsES6: 'true', // ES6 output (Promise, Map, ...), no ES5 shims
  modelPropertyNaming: 'original', // wire names stay as they are: client_id, not clientId
  paramNaming: 'original', // request parameters too: { _page, _limit }, not { page, limit }
  enumPropertyNaming: 'original', // enum keys as in the spec
  stringEnums: 'false', // `as const` objects + literal unions: callers may pass 'clientid' directly
  useSingleRequestParameter: 'true' // one object argument per call: api.getBroker({ node })
}

// No docs/*.md in the generated source tree; no generated tests.
export const GLOBAL_PROPERTIES = {
  apiDocs: 'false',
  modelDocs: 'false',
  apiTests: 'false',
  modelTests: 'false'
}

const kv = (o) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(',')

function log (msg) { process.stderr.write(`[generate-sdk] ${msg}\n`) }

const ROLE_TEXT = {
  none: 'Needs no credentials.',
  viewer: 'Required role: `viewer` (any user or app).',
  publisher: 'Required role: `publisher` or `administrator`.',
  administrator: 'Required role: `administrator`.'
}

/**
 * The spec with each operation's x-required-role appended to its description (the generator puts
 * descriptions in the SDK's doc comments), written to a file in dir. Fails on an operation without one.
 */
export function specWithRoles (spec, dir) {
  const doc = parseYaml(readFileSync(spec, 'utf8'))
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || op === null || !('operationId' in op)) continue
      const text = ROLE_TEXT[op['x-required-role']]
      if (text === undefined) throw new Error(`${method.toUpperCase()} ${path}: x-required-role is missing or unknown`)
      op.description = op.description ? `${op.description.trimEnd()}\n\n${text}` : text
    }
  }
  const out = join(dir, 'v3-with-roles.yaml')
  writeFileSync(out, stringifyYaml(doc, { lineWidth: 0 }))
  return out
}

/** Runs the generator into outDir (wiped first). Returns the warnings it printed. */
export function runGenerator ({ jar, spec, outDir, verbose = false }) {
  rmSync(outDir, { recursive: true, force: true })
  const javaOpts = (process.env.JAVA_OPTS ?? '').split(/\s+/).filter(Boolean)
  const args = [
    ...javaOpts,
    '-jar', jar,
    'generate',
    '-g', 'typescript-fetch',
    '-i', spec,
    '-o', outDir,
    '--global-property', kv(GLOBAL_PROPERTIES),
    '--additional-properties', kv(ADDITIONAL_PROPERTIES)
  ]
  const r = spawnSync('java', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.error) throw new Error(`could not run java: ${r.error.message}`)
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '')
  if (verbose) process.stderr.write(lines.join('\n') + '\n')
  if (r.status !== 0) {
    if (!verbose) process.stderr.write(lines.join('\n') + '\n')
    throw new Error(`openapi-generator exited with ${r.status}`)
  }
  // The generator repeats identical warnings once per reference: count them instead.
  const warnings = new Map()
  for (const line of lines) {
    if (/\b(WARN|ERROR)\b/.test(line) || /^\s*-\s|^Warning|^Error/.test(line)) {
      const key = line.replace(/^\[[^\]]*\]\s*/, '')
      warnings.set(key, (warnings.get(key) ?? 0) + 1)
    }
  }
  return warnings
}

function listFiles (dir) {
  const out = []
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else out.push(relative(dir, p))
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex')

/** Lists the differences between two generated trees (empty when identical). */
export function diffTrees (a, b) {
  const fa = listFiles(a)
  const fb = listFiles(b)
  const diffs = []
  for (const f of fa) if (!fb.includes(f)) diffs.push(`only in ${a}: ${f}`)
  for (const f of fb) if (!fa.includes(f)) diffs.push(`only in ${b}: ${f}`)
  for (const f of fa) if (fb.includes(f) && sha(join(a, f)) !== sha(join(b, f))) diffs.push(`differs: ${f}`)
  return diffs
}

const EXPORT_RE = /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:interface|type|class|const|let|function\s*\*?|enum)\s+(\w+)/gm

function exportedNames (file) {
  return [...readFileSync(file, 'utf8').matchAll(EXPORT_RE)].map((m) => m[1])
}

/**
 * sdk/src/index.ts does `export * from './generated/index.js'` next to its own
 * exports; a local export silently shadows a generated one of the same name.
 * Fails when a generated name collides with a hand-written one.
 */
export function checkExportCollisions (sdkDir) {
  const outDir = join(sdkDir, 'src', 'generated')
  const indexTs = join(sdkDir, 'src', 'index.ts')
  if (!existsSync(indexTs)) return
  const generated = new Set(listFiles(outDir).filter((f) => f.endsWith('.ts')).flatMap((f) => exportedNames(join(outDir, f))))
  const clashes = exportedNames(indexTs).filter((n) => generated.has(n))
  if (clashes.length > 0) {
    throw new Error(`generated code exports ${clashes.join(', ')}, also exported by ${relative(ROOT, indexTs)}: rename the schema in the spec or the helper`)
  }
}

/** Copies info.version of the spec into <sdk>/package.json. Returns the version. */
export function syncVersion (spec, sdkDir) {
  const doc = parseYaml(readFileSync(spec, 'utf8'))
  const version = doc?.info?.version
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`${relative(ROOT, spec)}: info.version ${JSON.stringify(version)} is not a semver version usable for npm`)
  }
  const pkgPath = join(sdkDir, 'package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'))
  if (pkg.version !== version) {
    pkg.version = version
    writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
    log(`${relative(ROOT, pkgPath)}: version set to ${version}`)
  }
  return version
}

function main () {
  const { values } = parseArgs({
    options: {
      spec: { type: 'string', default: join(ROOT, 'openapi', 'v3.yaml') },
      sdk: { type: 'string', default: join(ROOT, 'sdk') },
      check: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false }
    }
  })
  const spec = resolve(values.spec)
  const sdkDir = resolve(values.sdk)
  const outDir = join(sdkDir, 'src', 'generated')
  if (!existsSync(spec)) throw new Error(`spec not found: ${spec}`)

  const { jar, version } = ensureOpenApiJar({ root: ROOT, log })
  const started = Date.now()
  const specDir = mkdtempSync(join(tmpdir(), 'sdk-spec-'))
  try {
    run({ values, spec: specWithRoles(spec, specDir), source: spec, sdkDir, outDir, jar, version, started })
  } finally {
    rmSync(specDir, { recursive: true, force: true })
  }
}

function run ({ values, spec, source, sdkDir, outDir, jar, version, started }) {
  if (values.check) {
    const tmp = mkdtempSync(join(tmpdir(), 'sdk-check-'))
    try {
      runGenerator({ jar, spec, outDir: join(tmp, 'generated'), verbose: values.verbose })
      const diffs = diffTrees(outDir, join(tmp, 'generated'))
      if (diffs.length > 0) {
        log(`${relative(ROOT, outDir)} is out of date with ${relative(ROOT, source)} (run: node scripts/generate-sdk.mjs):`)
        for (const d of diffs) process.stderr.write(`  ${d.replaceAll(tmp, '<fresh>')}\n`)
        process.exitCode = 1
      } else {
        log(`${relative(ROOT, outDir)} is up to date (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
    return
  }

  const warnings = runGenerator({ jar, spec, outDir, verbose: values.verbose })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  for (const [line, n] of warnings) process.stderr.write(`  ${n > 1 ? `(x${n}) ` : ''}${line}\n`)
  log(`openapi-generator ${version} typescript-fetch: ${listFiles(outDir).length} files in ${relative(ROOT, outDir) || outDir} (${seconds} s, ${warnings.size} distinct warnings)`)
  checkExportCollisions(sdkDir)
  syncVersion(source, sdkDir)
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main()
  } catch (err) {
    log(err instanceof Error ? err.message : String(err))
    process.exit(1)
  }
}
