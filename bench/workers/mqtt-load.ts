/**
 * MQTT load generator (a child process of bench/run.ts, driven over IPC). Jobs:
 *  - throughput: publishers → one topic → subscribers, closed loop with a bounded end-to-end window,
 *    timestamps in the payload (CLOCK_MONOTONIC is shared by every process on the machine)
 *  - connect / release: open N idle clients (optionally with subscriptions) and hold them
 *  - persistent: queue QoS 1 messages for an offline persistent session, then reconnect and drain
 */
import { PublishTemplate, RawClient } from '../lib/mqtt-raw.js'
import { serveJobs } from '../lib/proc.js'
import { sleep } from '../../test/support/wait.js'
import { Reservoir } from '../lib/stats.js'

export interface ThroughputJob {
  kind: 'throughput'
  port: number
  tag: string
  qos: 0 | 1
  publishers: number
  subscribers: number
  payloadSize: number
  warmupMs: number
  durationMs: number
  /** most publishes outstanding (sent but not yet received by every subscriber) */
  window: number
  /** the subscribers form this shared group (`$share/<share>/<topic>`): each message reaches one of them */
  share?: string
}

export interface ThroughputResult {
  /** deliveries per second received by all subscribers in the measured interval */
  deliveredPerSec: number
  publishedPerSec: number
  latencyMs: { p50: number, p99: number, max: number, n: number }
  expected: number
  delivered: number
  lost: number
}

export interface ConnectJob { kind: 'connect', port: number, prefix: string, n: number, concurrency: number, subscriptions: number, qos: 0 | 1 }
export interface ConnectResult { connected: number, failed: number, ms: number, perSec: number, firstError: string | null }

/** `limitMs` bounds each phase: a slow store queues fewer messages than asked, and says so */
export interface PersistentJob { kind: 'persistent', port: number, tag: string, messages: number, window: number, payloadSize: number, limitMs: number }
export interface PersistentResult {
  enqueuedPerSec: number
  drainedPerSec: number
  /** CONNECT to CONNACK of the resuming session, its whole queue stored */
  connackMs: number
  queued: number
  drained: number
  lost: number
  /** the broker closed the publisher's connection before every PUBLISH was acknowledged */
  publisherDropped: boolean
}

const held: RawClient[] = []

async function connectAll (port: number, ids: string[], clean = true): Promise<RawClient[]> {
  return Promise.all(ids.map(clientId => RawClient.connect(port, { clientId, clean })))
}

async function throughput (job: ThroughputJob): Promise<ThroughputResult> {
  const topic = `bench/${job.tag}`
  const subs = await connectAll(job.port, Array.from({ length: job.subscribers }, (_, i) => `${job.tag}-s${i}`))
  const filter = job.share === undefined ? topic : `$share/${job.share}/${topic}`
  await Promise.all(subs.map(s => s.subscribe([filter], job.qos)))
  const pubs = await connectAll(job.port, Array.from({ length: job.publishers }, (_, i) => `${job.tag}-p${i}`))
  const fanout = job.share === undefined ? job.subscribers : 1
  const tpl = new PublishTemplate(topic, job.qos, Math.max(16, job.payloadSize))
  const lat = new Reservoir()
  let sent = 0
  let delivered = 0
  let measuring = false
  let stopped = false
  let scheduled = false
  const blocked = new Set<RawClient>()
  const mids = pubs.map(() => 0)

  const pump = (): void => {
    scheduled = false
    if (stopped) return
    let budget = job.window - Math.ceil(sent - delivered / fanout)
    while (budget > 0 && blocked.size < pubs.length) {
      const share = Math.max(1, Math.min(64, Math.ceil(budget / pubs.length)))
      for (let i = 0; i < pubs.length && budget > 0; i++) {
        const p = pubs[i] as RawClient
        if (blocked.has(p)) continue
        const k = Math.min(share, budget)
        const out = Buffer.allocUnsafe(tpl.size * k)
        const now = process.hrtime.bigint()
        let at = 0
        for (let j = 0; j < k; j++) {
          let mid = (mids[i] as number) + 1
          if (mid > 65535) mid = 1
          mids[i] = mid
          at = tpl.write(out, at, mid, (b, o) => { b.writeBigUInt64BE(now, o) })
        }
        sent += k
        budget -= k
        if (!p.write(out)) {
          blocked.add(p)
          p.socket.once('drain', () => { blocked.delete(p); schedule() })
        }
      }
    }
  }
  const schedule = (): void => {
    if (scheduled || stopped) return
    scheduled = true
    setImmediate(pump)
  }

  for (const s of subs) {
    s.onPublish = (payload) => {
      delivered++
      if (measuring) lat.add(Number(process.hrtime.bigint() - payload.readBigUInt64BE(0)) / 1e6)
      schedule()
    }
  }
  schedule()
  await sleep(job.warmupMs)
  measuring = true
  const d0 = delivered
  const s0 = sent
  const t0 = performance.now()
  await sleep(job.durationMs)
  const seconds = (performance.now() - t0) / 1000
  const measured = delivered - d0
  const published = sent - s0
  measuring = false
  stopped = true
  // drain: everything sent must arrive; stop waiting after 2 s without progress
  let last = -1
  let quietSince = performance.now()
  const outstanding = (): boolean => delivered < sent * fanout
  while (outstanding()) {
    if (delivered !== last) { last = delivered; quietSince = performance.now() }
    if (performance.now() - quietSince > 2000) break
    await sleep(20)
  }
  const expected = sent * fanout
  await Promise.all([...pubs, ...subs].map(c => c.close()))
  return {
    deliveredPerSec: measured / seconds,
    publishedPerSec: published / seconds,
    latencyMs: lat.summary(),
    expected,
    delivered,
    lost: expected - delivered
  }
}

async function connect (job: ConnectJob): Promise<ConnectResult> {
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const t0 = performance.now()
  const lane = async (): Promise<void> => {
    while (next < job.n) {
      const i = next++
      try {
        const c = await RawClient.connect(job.port, { clientId: `${job.prefix}-${i}`, clean: true, timeoutMs: 30000 })
        if (job.subscriptions > 0) {
          await c.subscribe(Array.from({ length: job.subscriptions }, (_, k) => `bench/${job.prefix}/${i}/${k}`), job.qos)
        }
        held.push(c)
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, lane))
  const ms = performance.now() - t0
  const connected = job.n - failed
  return { connected, failed, ms, perSec: connected / (ms / 1000), firstError }
}

async function release (): Promise<{ released: number }> {
  const all = held.splice(0)
  // politely, in slices, so the broker is not handed 10,000 closes in one tick
  for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map(c => c.close(5000)))
  return { released: all.length }
}

async function persistent (job: PersistentJob): Promise<PersistentResult> {
  const topic = `bench/${job.tag}`
  const subId = `${job.tag}-persistent`
  const sub = await RawClient.connect(job.port, { clientId: subId, clean: false })
  await sub.subscribe([topic], 1)
  await sub.close()
  await sleep(200)

  const pub = await RawClient.connect(job.port, { clientId: `${job.tag}-pub` })
  const tpl = new PublishTemplate(topic, 1, Math.max(16, job.payloadSize))
  let sent = 0
  let acked = 0
  const t0 = performance.now()
  let target = job.messages
  let publisherDropped = false
  await new Promise<void>((resolve) => {
    // bounded whatever the broker does: a dropped connection or PUBACKs that never come end the phase
    const giveUp = (): void => { clearTimeout(timer); clearTimeout(last); target = acked; resolve() }
    pub.socket.once('close', () => { if (acked < target) { publisherDropped = true; giveUp() } })
    const last = setTimeout(giveUp, job.limitMs + 10000)
    const timer = setTimeout(() => { target = sent; if (acked >= target) { clearTimeout(last); resolve() } }, job.limitMs)
    const pump = (): void => {
      while (sent < target && sent - acked < job.window) {
        const out = Buffer.allocUnsafe(tpl.size)
        sent++
        tpl.write(out, 0, ((sent - 1) % 65535) + 1, (b, o) => { b.writeBigUInt64BE(process.hrtime.bigint(), o) })
        pub.write(out)
      }
    }
    pub.onPuback = () => {
      acked++
      if (acked >= target) { clearTimeout(timer); clearTimeout(last); resolve() } else pump()
    }
    pump()
  })
  const enqueueSec = (performance.now() - t0) / 1000
  await pub.close()
  await sleep(200)

  let drained = 0
  const t1 = performance.now()
  let tDone = t1
  const again = await RawClient.connect(job.port, { clientId: subId, clean: false })
  const connackMs = performance.now() - t1
  again.onPublish = () => { drained++; tDone = performance.now() }
  let last = -1
  let quietSince = performance.now()
  const pending = (): boolean => drained < target
  while (pending()) {
    if (drained !== last) { last = drained; quietSince = performance.now() }
    if (performance.now() - quietSince > 3000 || performance.now() - t1 > job.limitMs) break
    await sleep(10)
  }
  const drainSec = (tDone - t1) / 1000
  await again.close()
  // purge the session
  const purge = await RawClient.connect(job.port, { clientId: subId, clean: true })
  await purge.close()
  return {
    enqueuedPerSec: target / enqueueSec,
    drainedPerSec: drained / drainSec,
    connackMs,
    queued: target,
    drained,
    lost: target - drained,
    publisherDropped
  }
}

serveJobs(async (job) => {
  switch (job.kind) {
    case 'throughput': return throughput(job as unknown as ThroughputJob)
    case 'connect': return connect(job as unknown as ConnectJob)
    case 'release': return release()
    case 'persistent': return persistent(job as unknown as PersistentJob)
    default: throw new Error(`unknown job ${job.kind}`)
  }
})
