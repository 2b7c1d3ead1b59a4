#!/usr/bin/env node
// Makes sure the openapi-generator jar pinned in openapitools.json is present
// where @openapitools/openapi-generator-cli looks for it: <storageDir>/<version>.jar.
//
// Idempotent: does nothing when the jar is already there.
// Otherwise it first lets the CLI download the jar itself (its default Maven
// Central download), and if that fails it falls back to Maven:
//   mvn dependency:copy -Dartifact=org.openapitools:openapi-generator-cli:<version>
// which uses whatever repositories the local Maven is configured with.
// Set OPENAPI_JAR_VIA=mvn to skip the CLI download and use Maven directly.
//
// Usage: node scripts/ensure-openapi-jar.mjs        (prints the jar path)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const MIN_JAR_BYTES = 1_000_000

/** Reads generator-cli.version and generator-cli.storageDir from openapitools.json. */
export function readGeneratorConfig (root = ROOT) {
  const config = JSON.parse(readFileSync(join(root, 'openapitools.json'), 'utf8'))
  const cli = config['generator-cli'] ?? {}
  const version = cli.version
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error('openapitools.json: generator-cli.version must be pinned to an exact x.y.z version')
  }
  // Same resolution as the CLI: relative to the working directory (the repo root), "~" = home.
  const storageDir = resolve(root, (cli.storageDir ?? 'node_modules/@openapitools/openapi-generator-cli/versions').replace('~', homedir()))
  return { version, storageDir, jar: join(storageDir, `${version}.jar`) }
}

function jarOk (jar) {
  return existsSync(jar) && statSync(jar).size >= MIN_JAR_BYTES
}

function viaCli (root) {
  const main = join(root, 'node_modules', '@openapitools', 'openapi-generator-cli', 'main.js')
  if (!existsSync(main)) return false
  // Any command makes the CLI download the selected version first.
  const r = spawnSync(process.execPath, [main, 'version'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-12).join('\n')
    process.stderr.write(`[ensure-openapi-jar] CLI download failed (exit ${r.status}):\n${tail}\n`)
  }
  return r.status === 0
}

function viaMaven (version, jar) {
  const tmp = mkdtempSync(join(dirname(jar), '.mvn-'))
  try {
    const r = spawnSync('mvn', [
      '-q', '-B', '-Dstyle.color=never',
      'dependency:copy',
      `-Dartifact=org.openapitools:openapi-generator-cli:${version}`,
      `-DoutputDirectory=${tmp}`
    ], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 600_000 })
    if (r.error) throw new Error(`could not run mvn: ${r.error.message}`)
    if (r.status !== 0) throw new Error(`mvn dependency:copy exited with ${r.status}:\n${r.stdout}${r.stderr}`)
    const copied = join(tmp, `openapi-generator-cli-${version}.jar`)
    if (!jarOk(copied)) throw new Error(`mvn did not produce ${copied}`)
    renameSync(copied, jar) // same file system: atomic, so no half-written jar is ever seen
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Returns { version, storageDir, jar, source } once the jar exists. */
export function ensureOpenApiJar ({ root = ROOT, log = (m) => process.stderr.write(`[ensure-openapi-jar] ${m}\n`) } = {}) {
  const cfg = readGeneratorConfig(root)
  if (jarOk(cfg.jar)) return { ...cfg, source: 'cached' }
  mkdirSync(cfg.storageDir, { recursive: true })

  if (process.env.OPENAPI_JAR_VIA !== 'mvn') {
    log(`downloading openapi-generator ${cfg.version} with openapi-generator-cli`)
    if (viaCli(root) && jarOk(cfg.jar)) return { ...cfg, source: 'cli' }
    rmSync(cfg.jar, { force: true }) // a partial download would pass existsSync next time
  }

  log(`fetching openapi-generator ${cfg.version} with mvn dependency:copy`)
  viaMaven(cfg.version, cfg.jar)
  if (!jarOk(cfg.jar)) throw new Error(`${cfg.jar} is still missing`)
  return { ...cfg, source: 'mvn' }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { jar, source } = ensureOpenApiJar()
    process.stdout.write(`${jar}\n`)
    if (source !== 'cached') process.stderr.write(`[ensure-openapi-jar] jar obtained via ${source}\n`)
  } catch (err) {
    process.stderr.write(`[ensure-openapi-jar] ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
}
