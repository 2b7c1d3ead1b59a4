/**
 * Scenario 4: the stores. API writes per second (POST /banned/, a distinct `who` each) on the embedded
 * store and on MongoDB (FerretDB, skipped visibly without Go), and QoS 1 messages per second for an
 * offline persistent session: queued (publisher QoS 1, each PUBACK awaited within a window of 100),
 * then drained on reconnect (with the time from CONNECT to CONNACK of the session holding the whole
 * queue); bare aedes and Mosquitto alongside.
 */
import type { Ctx } from '../context.js'
import { rotate, tag } from '../context.js'
import { spread, type Spread } from '../lib/stats.js'
import { BEFORE_DIR, startFerret, startSystem, type MongoServer, type System, type SystemName } from '../systems.js'
import type { HttpResult } from '../workers/http-load.js'
import type { PersistentResult } from '../workers/mqtt-load.js'

export interface StoresResult {
  mongo: string
  apiWrites: Partial<Record<SystemName, { perSec: Spread, p99Ms: Spread, errors: number }>>
  persistent: Partial<Record<SystemName, { enqueuedPerSec: Spread, drainedPerSec: Spread, connackMs: Spread, queued: number, lost: number, publisherDropped: number }>>
  /** rounds of the offline-queue measurement that failed, per system */
  failures?: Partial<Record<SystemName, string[]>>
}

export async function runStores (ctx: Ctx): Promise<StoresResult> {
  const ferret = await startFerret(ctx.log)
  const mongo: MongoServer | null = 'url' in ferret ? ferret : null
  let mongoNote = mongo === null ? `skipped: ${(ferret as { skipped: string }).skipped}` : 'FerretDB v1.24.2 (SQLite backend) via scripts/ferretdb.sh'
  if (mongo === null) ctx.log(`  MongoDB store ${mongoNote}`)
  const names: SystemName[] = ['ours']
  if (mongo !== null) names.push('ours-mongo')
  if (BEFORE_DIR !== null) names.push(...(mongo !== null ? ['before', 'before-mongo'] as const : ['before'] as const))
  names.push('aedes-memory', 'aedes-sqlite')
  if (ctx.mosquitto) names.push('mosquitto')
  const systems: System[] = []
  try {
    for (const n of names) {
      try {
        // the offline queue unbounded, like the baselines': its default of 1,000 (EMQ X's max_mqueue_len)
        // would drop most of the messages queued here, and this measures the queue, not its limit
        const env = { MQTT_MAX_MQUEUE: '0' }
        systems.push(await startSystem(n, ctx.runtime, mongo === null ? { env } : { env, mongoUrl: mongo.url }))
      } catch (err) {
        if (n !== 'ours-mongo' && n !== 'before-mongo') throw err
        mongoNote = `skipped: our node did not start on FerretDB: ${(err as Error).message}`
        ctx.log(`  MongoDB store ${mongoNote}`)
      }
    }
    const writes = new Map<SystemName, HttpResult[]>()
    const queued = new Map<SystemName, PersistentResult[]>()
    const failures: Partial<Record<SystemName, string[]>> = {}
    const rounds = ctx.p.smallRounds
    for (let r = 0; r < rounds; r++) {
      for (const s of rotate(systems, r)) {
        if (s.api !== null) {
          const h = await ctx.http.call<HttpResult>({
            kind: 'http',
            url: `${s.api}/banned/`,
            method: 'POST',
            auth: 'admin:public',
            body: `{"who":"${tag('w')}-{{seq}}","as":"client_id","reason":"bench"}`,
            concurrency: 4,
            durationMs: ctx.p.httpMs
          })
          writes.set(s.name, [...writes.get(s.name) ?? [], h])
        }
        try {
          const p = await ctx.mqtt.call<PersistentResult>({ kind: 'persistent', port: s.mqttPort, tag: tag('p'), messages: ctx.p.persistentMessages, window: 100, payloadSize: 64, limitMs: ctx.mode === 'quick' ? 5000 : 30000 })
          queued.set(s.name, [...queued.get(s.name) ?? [], p])
        } catch (err) {
          // one system's failed round (the code before issue 21 on FerretDB: no CONNACK within 15 s with the
          // whole queue stored) is a result of its own, not the end of the scenario
          const why = (err as Error).message.split('\n')[0] ?? 'failed'
          ctx.log(`  ${s.name}: round ${r + 1} failed: ${why}`)
          failures[s.name] = [...failures[s.name] ?? [], `round ${r + 1}: ${why}`]
        }
      }
    }
    const result: StoresResult = { mongo: mongoNote, apiWrites: {}, persistent: {}, failures }
    for (const [n, list] of writes) {
      result.apiWrites[n] = { perSec: spread(list.map(x => x.perSec)), p99Ms: spread(list.map(x => x.latencyMs.p99)), errors: list.reduce((a, x) => a + x.errors, 0) }
      ctx.log(`  ${n}: POST /banned/ ${Math.round(result.apiWrites[n].perSec.median)}/s, p99 ${result.apiWrites[n].p99Ms.median.toFixed(1)} ms`)
    }
    for (const [n, list] of queued) {
      result.persistent[n] = {
        enqueuedPerSec: spread(list.map(x => x.enqueuedPerSec)),
        drainedPerSec: spread(list.map(x => x.drainedPerSec)),
        connackMs: spread(list.map(x => x.connackMs)),
        queued: list.reduce((a, x) => a + x.queued, 0),
        lost: list.reduce((a, x) => a + x.lost, 0),
        publisherDropped: list.filter(x => x.publisherDropped).length
      }
      ctx.log(`  ${n}: offline QoS 1 queued ${Math.round(result.persistent[n].enqueuedPerSec.median)}/s, drained ${Math.round(result.persistent[n].drainedPerSec.median)}/s (CONNACK after ${result.persistent[n].connackMs.median.toFixed(0)} ms), lost ${result.persistent[n].lost}${result.persistent[n].publisherDropped > 0 ? `, publisher dropped by the broker in ${result.persistent[n].publisherDropped} round(s)` : ''}`)
    }
    return result
  } finally {
    for (const s of systems) await s.stop()
    await mongo?.stop()
  }
}
