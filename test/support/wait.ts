/** Polling, for tests and the bench: state fed by events, sockets and other processes settles asynchronously. */

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

export interface WaitOptions {
  /** default 3000 */
  timeoutMs?: number
  /** pause between tries; default 25 */
  intervalMs?: number
  /** named in the timeout error (a function: read when it fails, e.g. what was seen so far) */
  what?: string | (() => string)
  /** an error of `fn` that makes further tries pointless (e.g. the awaited process exited): thrown at once */
  giveUpOn?: (err: unknown) => boolean
}

/**
 * Calls `fn` until it returns a truthy value, and returns that. Errors of `fn` count as "not yet";
 * when time is up, the last one is thrown (it says more than a timeout), else a timeout naming `what`.
 */
export async function eventually<T> (fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, opts: number | WaitOptions = {}): Promise<T> {
  const { timeoutMs = 3000, intervalMs = 25, what, giveUpOn } = typeof opts === 'number' ? { timeoutMs: opts } : opts
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as T
    } catch (err) {
      if (giveUpOn?.(err) === true) throw err
      last = err
    }
    if (Date.now() > deadline) {
      if (what !== undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`, { cause: last })
      throw last instanceof Error ? last : new Error(`condition not met in ${timeoutMs} ms`)
    }
    await sleep(intervalMs)
  }
}

/** `eventually` for in-process state, polled often: fails naming `what` after `timeoutMs` (default 2000). */
export async function until (cond: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 2000): Promise<void> {
  await eventually(cond, { what, timeoutMs, intervalMs: 5 })
}
