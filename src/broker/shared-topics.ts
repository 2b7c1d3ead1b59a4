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
