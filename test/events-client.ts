// An EventSource (the eventsource package) on GET /events that collects what it receives, for the
// event stream's end-to-end and cluster tests.
import type { TestContext } from 'node:test'
import { EventSource } from 'eventsource'
import { ADMIN } from './helpers.js'
import { eventually } from './support/wait.js'

export interface Ev { id: string, type: string, node: string, at: number, clientid?: string, username?: string, data: any }

export const AUTH = 'Basic ' + Buffer.from(`${ADMIN.user}:${ADMIN.pass}`).toString('base64')
export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** An EventSource on GET /events (at `base`, e.g. through a proxy) collecting what it receives. */
export async function listen (t: TestContext, base: string, query = ''): Promise<{ es: EventSource, got: Ev[], gaps: number, waitFor: (pred: (e: Ev) => boolean, ms?: number) => Promise<Ev> }> {
  const es = new EventSource(`${base}/events${query}`, {
    fetch: async (input, init) => await fetch(input, { ...init, headers: { ...init?.headers, authorization: AUTH } })
  })
  t.after(() => { es.close() })
  const state = { es, got: [] as Ev[], gaps: 0 }
  es.addEventListener('message', (m) => { state.got.push(JSON.parse(m.data) as Ev) })
  es.addEventListener('gap', () => { state.gaps++ })
  await new Promise<void>((resolve, reject) => {
    es.addEventListener('open', () => resolve(), { once: true })
    es.addEventListener('error', (e) => reject(new Error(`EventSource: ${String((e as { message?: string }).message)}`)), { once: true })
  })
  return {
    ...state,
    get gaps () { return state.gaps },
    waitFor: async (pred, ms = 5000) => await eventually(() => state.got.find(pred), ms)
  }
}
