/** Order statistics for benchmark samples. */

export interface Spread {
  median: number
  min: number
  max: number
  /** interquartile range (q75 - q25) */
  iqr: number
  n: number
}

/** The q-quantile (0..1) of `sorted` (ascending), linearly interpolated; NaN when empty. */
export function quantileSorted (sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  const pos = (n - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, n - 1)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (pos - lo)
}

export function quantile (values: readonly number[], q: number): number {
  return quantileSorted([...values].sort((a, b) => a - b), q)
}

export function median (values: readonly number[]): number {
  return quantile(values, 0.5)
}

export function spread (values: readonly number[]): Spread {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b)
  return {
    median: quantileSorted(s, 0.5),
    min: s.length > 0 ? s[0] as number : NaN,
    max: s.length > 0 ? s[s.length - 1] as number : NaN,
    iqr: quantileSorted(s, 0.75) - quantileSorted(s, 0.25),
    n: s.length
  }
}

/** A bounded latency recorder: keeps every sample up to `capacity`, then a uniform reservoir. */
export class Reservoir {
  readonly #buf: Float64Array
  #seen = 0

  constructor (capacity = 200_000) {
    this.#buf = new Float64Array(capacity)
  }

  get count (): number { return this.#seen }

  add (v: number): void {
    const cap = this.#buf.length
    if (this.#seen < cap) {
      this.#buf[this.#seen] = v
    } else {
      const j = Math.floor(Math.random() * (this.#seen + 1))
      if (j < cap) this.#buf[j] = v
    }
    this.#seen++
  }

  /** p50 / p99 / max of what was recorded, in the unit added. */
  summary (): { p50: number, p99: number, max: number, n: number } {
    const s = this.#buf.slice(0, Math.min(this.#seen, this.#buf.length)).sort()
    return { p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99), max: s.length > 0 ? s[s.length - 1] as number : NaN, n: this.#seen }
  }
}

/** a / b, NaN when either side is missing */
export function ratio (a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN
}

export function round (v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v
  const f = 10 ** digits
  return Math.round(v * f) / f
}
