/** MQTT topic rules ([MQTT-4.7]) for names (publish) and filters (subscribe). */
import type { PublishRequestWire } from '../core/wire.js'
import { malformedShared, routeFilter } from '../broker/shared-topics.js'

const MAX_TOPIC_BYTES = 65535

function basicOk (t: string): boolean {
  return t.length > 0 && !t.includes('\u0000') && Buffer.byteLength(t) <= MAX_TOPIC_BYTES
}

/** [MQTT-4.7.1-1] wildcards are not allowed in a topic name. */
export function isValidTopicName (t: string): boolean {
  return basicOk(t) && !t.includes('+') && !t.includes('#')
}

/** [MQTT-4.7.1-2] '#' alone and last; [MQTT-4.7.1-3] '+' occupies a whole level. */
export function isValidTopicFilter (t: string): boolean {
  if (!basicOk(t)) return false
  // a malformed $share/ or $queue/ filter is refused as a SUBSCRIBE's is (SUBACK 0x80)
  if (malformedShared(t)) return false
  const filter = routeFilter(t)
  const levels = filter.split('/')
  return levels.every((level, i) =>
    (level === '#' && i === levels.length - 1) ||
    level === '+' ||
    (!level.includes('#') && !level.includes('+')))
}

/** `topic` (comma-separated) or its alias `topics`; EMQ X's topics/3. */
export function splitTopics (body: Pick<PublishRequestWire, 'topic' | 'topics'>): string[] | null {
  const raw = body.topic ?? body.topics
  if (raw === undefined) return null
  return raw.split(',')
}
