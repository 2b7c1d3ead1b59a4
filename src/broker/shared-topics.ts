/** The filters of shared subscriptions (shared.ts), read by the registry too: imports nothing. */

const QUEUE_GROUP = '$queue'

/** `$share/<group>/<filter>` or `$queue/<filter>` → its group and real filter; null for any other filter. */
export function parseShared (topic: string): { group: string, filter: string } | null {
  if (topic.startsWith('$queue/')) {
    const filter = topic.slice(7)
    return filter === '' ? null : { group: QUEUE_GROUP, filter }
  }
  if (!topic.startsWith('$share/')) return null
  const slash = topic.indexOf('/', 7)
  if (slash < 0) return null
  const group = topic.slice(7, slash)
  const filter = topic.slice(slash + 1)
  // [MQTT-4.8.2-2] a share name has no wildcards
  if (group === '' || filter === '' || group.includes('+') || group.includes('#')) return null
  return { group, filter }
}

/** A filter in the shared namespace (`$share/...`, `$queue/...`) that is no valid shared subscription: refused. */
export function malformedShared (topic: string): boolean {
  return (topic.startsWith('$share/') || topic.startsWith('$queue/')) && parseShared(topic) === null
}

/**
 * The subscriptions of SUBSCRIBE packets refused for a malformed shared filter (marked by
 * screenSubscribe before aedes reads the packet, asked by the subscribe authorization).
 */
const refused = new WeakSet<object>()

/**
 * Marks each malformed shared filter of a SUBSCRIBE refused (SUBACK 0x80, nothing stored). aedes
 * would close the connection for a wildcard inside a share name (`$share/g+/x` fails its topic
 * check, which runs before authorization): there `+`/`#` become U+0000 sequences, which no MQTT
 * string can hold [MQTT-1.5.3-2], so the topic stays unique within the packet and passes the check.
 */
export function screenSubscribe (subscriptions: Array<{ topic: string }>): void {
  for (const s of subscriptions) {
    if (typeof s.topic !== 'string' || !malformedShared(s.topic)) continue
    refused.add(s)
    if (/[+#]/.test(s.topic)) s.topic = s.topic.replace(/[+#]/g, c => c === '+' ? '\u0000p' : '\u0000h')
  }
}

export function isRefused (sub: object): boolean { return refused.has(sub) }

/** The filter a subscription routes on: the real filter of a shared one. */
export function routeFilter (topic: string): string {
  return parseShared(topic)?.filter ?? topic
}

/** MQTT topic matching of `topic` against `filter` (+, #; `$` topics only by filters that name them [MQTT-4.7.2-1]). */
export function topicMatches (filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}
