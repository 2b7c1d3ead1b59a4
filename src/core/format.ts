/** Value formats EMQ X's answers use, that users' scripts rely on (DECISIONS.md "The wire format"). */

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

/** Formatted seconds: lists format many timestamps from the same few seconds. */
const formatted = new Map<number, string>()
const FORMATTED_MAX = 4096

/** Server-local `YYYY-MM-DD HH:MM:SS` (emqx_mgmt_util:strftime). */
export function datetime (ms: number = Date.now()): string {
  const sec = Math.floor(ms / 1000)
  const hit = formatted.get(sec)
  if (hit !== undefined) return hit
  const d = new Date(sec * 1000)
  const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  if (formatted.size >= FORMATTED_MAX) formatted.clear()
  formatted.set(sec, s)
  return s
}

/** emqx_sys:uptime/2: "3 days,18 hours, 25 minutes, 11 seconds" (no space after "days,"). */
export function uptime (seconds: number): string {
  const s = Math.floor(seconds)
  if (s < 60) return `${s} seconds`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} minutes, ${s % 60} seconds`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} hours, ${m % 60} minutes, ${s % 60} seconds`
  return `${Math.floor(h / 24)} days,${h % 24} hours, ${m % 60} minutes, ${s % 60} seconds`
}

/** emqx_mgmt_util:kmg/1: 1024-based, strict `>`, two decimals. */
export function kmg (bytes: number): string {
  const units: Array<[number, string]> = [[1024 ** 3, 'G'], [1024 ** 2, 'M'], [1024, 'K']]
  for (const [size, unit] of units) {
    if (bytes > size) return `${(bytes / size).toFixed(2)}${unit}`
  }
  return String(bytes)
}

/** EMQ X renders an absent value (the atom undefined) as the string "undefined". */
export function orUndefined (v: string | null | undefined): string {
  return v ?? 'undefined'
}
