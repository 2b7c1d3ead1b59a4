/**
 * Runs the Eclipse Paho interoperability suites (eclipse/paho.mqtt.testing, `interoperability/`:
 * client_test.py for MQTT 3.1.1, client_test5.py for MQTT 5) against a broker, one test per Python
 * process with a timeout, as their own harness needs, and prints `N passed, N failed` per suite with
 * the failing tests' names.
 *
 *   PAHO_DIR=<suite dir> node --import tsx test/interop/paho.ts [options]
 *
 *   --broker ours|aedes-memory|aedes-sqlite|mosquitto   start that broker on free ports (default ours:
 *                                  our node with a fresh embedded store; bare aedes is the version in
 *                                  node_modules; Mosquitto allows anonymous clients)
 *   --url host:port                test a broker that is already running instead
 *   --suite 3|5                    one suite only (default both)
 *   --test NAME                    one test only (repeatable), e.g. test_basic
 *   --fresh                        a freshly started broker for every test (not with --url): tells a
 *                                  test's own failure from the after-effects of the one before it
 *   --timeout SECONDS              per test (default 60)
 *   --logs DIR                     keep each test's output there
 *   --min 3=N --min 5=N            exit 1 when a suite passes fewer than N tests (for CI)
 *
 * Without PAHO_DIR (or when it has no suites) it prints why and exits 0: the suites are not ours to
 * vendor (EPL) and are fetched where they are run.
 *
 * Sequential on purpose: every test of both suites uses the same two client ids (`myclientid`,
 * `myclientid2`, made in `setUpClass`, whose clean-up also connects both with a clean start and clears
 * every retained message under `#`), so two tests at once against one broker disturb each other.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { LABELS, startSystem, type System, type SystemName } from '../../bench/systems.js'

interface Suite { key: '3' | '5', file: string, label: string }
const SUITES: Suite[] = [
  { key: '3', file: 'client_test.py', label: 'MQTT 3.1.1 (client_test.py)' },
  { key: '5', file: 'client_test5.py', label: 'MQTT 5 (client_test5.py)' }
]

// The suites read their options from sys.argv and then hand the same argv to unittest.main(), which
// rejects options it does not know (client_test.py keeps the port in argv), so unittest gets the test
// name alone. Long options only: both test `o in ("--help")`, a substring test that takes -h for --help.
const BOOT = `
import os, runpy, sys, unittest
script, host, port, test = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(script))
main = unittest.main
unittest.main = lambda *a, **k: main(*a, **{**k, 'argv': [script, test]})
sys.argv = [script, '--hostname', host, '--port', port, test]
runpy.run_path(script, run_name='__main__')
`
// Lists the test methods without running the suite (its __main__ block does not run on import).
const LIST = `
import importlib.util, os, sys, unittest
sys.path.insert(0, os.path.dirname(sys.argv[1]))
spec = importlib.util.spec_from_file_location('suite', sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print('\\n'.join(unittest.TestLoader().getTestCaseNames(m.Test)))
`

interface Outcome { name: string, ok: boolean, seconds: number, why: string, output: string }

function runOne (dir: string, suite: Suite, test: string, host: string, port: number, timeoutS: number): Promise<Outcome> {
  const started = Date.now()
  return new Promise((resolve) => {
    // its own process group, so a timeout also ends anything the test started
    const child = spawn('python3', ['-c', BOOT, join(dir, suite.file), host, String(port), `Test.${test}`], {
      cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* already gone */ }
    }, timeoutS * 1000)
    child.once('close', (code) => {
      clearTimeout(timer)
      const seconds = (Date.now() - started) / 1000
      // a pass is unittest's own verdict on exactly one test: a suite that exits 0 early (usage) is no pass
      const ok = code === 0 && !timedOut && /^Ran 1 test\b/m.test(output) && /^OK\b/m.test(output)
      const why = timedOut ? `timeout ${timeoutS}s` : (/^(FAIL|ERROR): .*$/m.exec(output)?.[0] ?? `exit ${code}, ${/^Ran \d+ tests?/m.exec(output)?.[0] ?? 'no test ran'}`)
      resolve({ name: test, ok, seconds, why: ok ? '' : why, output })
    })
  })
}

function listTests (dir: string, suite: Suite): string[] {
  const r = spawnSync('python3', ['-c', LIST, join(dir, suite.file)], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
  if (r.status !== 0) throw new Error(`cannot list the tests of ${suite.file}: ${r.stderr.trim()}`)
  return r.stdout.split('\n').map(s => s.trim()).filter(s => s !== '')
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      broker: { type: 'string', default: 'ours' },
      url: { type: 'string' },
      suite: { type: 'string' },
      test: { type: 'string', multiple: true },
      timeout: { type: 'string', default: '60' },
      logs: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      min: { type: 'string', multiple: true }
    }
  })
  const dir = process.env.PAHO_DIR === undefined ? undefined : resolve(process.env.PAHO_DIR)
  if (dir === undefined || !SUITES.some(s => existsSync(join(dir, s.file)))) {
    console.log(`paho interop: skipped: ${dir === undefined ? 'PAHO_DIR is not set' : `no ${SUITES.map(s => s.file).join(' or ')} in PAHO_DIR`} (it must point at the interoperability/ directory of eclipse/paho.mqtt.testing)`)
    return 0
  }
  if (spawnSync('python3', ['--version']).status !== 0) {
    console.log('paho interop: skipped: python3 is not installed')
    return 0
  }
  const timeoutS = Number(values.timeout)
  if (!(timeoutS > 0)) throw new Error(`--timeout ${values.timeout}: a number of seconds`)
  const mins = new Map((values.min ?? []).map(m => { const [k, n] = m.split('='); return [k, Number(n)] as const }))
  const suites = SUITES.filter(s => (values.suite === undefined || values.suite === s.key) && existsSync(join(dir, s.file)))
  if (suites.length === 0) throw new Error(`--suite ${values.suite}: 3 or 5`)

  let system: System | null = null
  let host = '127.0.0.1'
  let port = 0
  let label: string
  let start = async (): Promise<void> => {}
  if (values.url !== undefined) {
    const m = /^(?:mqtt:\/\/)?([^:/]+):(\d+)$/.exec(values.url)
    if (m === null) throw new Error(`--url ${values.url}: host:port`)
    if (values.fresh) throw new Error('--fresh starts its own broker: not with --url')
    host = m[1] as string; port = Number(m[2]); label = values.url
  } else {
    const name = values.broker as SystemName
    if (!(name in LABELS) || name === 'ours-mongo') throw new Error(`--broker ${values.broker}: ours, aedes-memory, aedes-sqlite or mosquitto`)
    label = LABELS[name]
    start = async () => {
      await system?.stop()
      system = await startSystem(name, { argv: ['--import', 'tsx', 'src/main.ts'], how: 'tsx' })
      port = system.mqttPort
      if (system.api !== null) await configureOurs(system.api)
    }
    if (!values.fresh) await start()
  }
  console.log(`paho interop against ${label}${values.fresh ? ', a fresh one per test' : ` at ${host}:${port}`}, ${timeoutS}s per test`)
  if (values.logs !== undefined) mkdirSync(values.logs, { recursive: true })

  let short = false
  try {
    const totals: string[] = []
    for (const suite of suites) {
      const tests = listTests(dir, suite).filter(t => values.test === undefined || values.test.includes(t))
      const failed: Outcome[] = []
      for (const test of tests) {
        if (values.fresh) await start()
        const o = await runOne(dir, suite, test, host, port, timeoutS)
        console.log(`  ${suite.key} ${o.ok ? 'pass' : 'FAIL'} ${test} (${o.seconds.toFixed(1)}s)${o.ok ? '' : ': ' + o.why}`)
        if (!o.ok) failed.push(o)
        if (values.logs !== undefined) writeFileSync(join(values.logs, `${suite.key}-${test}.log`), o.output)
      }
      const passed = tests.length - failed.length
      const line = `${suite.label}: ${passed} passed, ${failed.length} failed` + (failed.length > 0 ? ` (${failed.map(f => f.name).join(', ')})` : '')
      totals.push(line)
      const min = mins.get(suite.key)
      if (min !== undefined && passed < min) short = true
    }
    console.log(`paho interop against ${label}:`)
    for (const line of totals) console.log('  ' + line)
  } finally {
    await (system as System | null)?.stop()
  }
  return short ? 1 : 0
}

/**
 * What the suites expect of a broker's configuration, set through our API as an operator would:
 * client_test5.py's test_server_keep_alive connects asking for 120 s and expects a Server Keep Alive of 60.
 */
async function configureOurs (api: string): Promise<void> {
  const auth = `Basic ${Buffer.from('admin:public').toString('base64')}`
  const call = async (method: string, path: string, body: unknown): Promise<void> => {
    const res = await fetch(`${api}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${method} ${api}${path}: ${res.status} ${await res.text()}`)
  }
  await call('PUT', '/configs/emqx', { key: 'mqtt.server_keepalive', value: '60' })
  // test_subscribe_failure (both suites) expects the broker's authorization to refuse this filter
  await call('POST', '/acl', { topic: 'test/nosubscribe', action: 'sub', access: 'deny' })
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 2
})
