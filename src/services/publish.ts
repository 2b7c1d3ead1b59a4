/** A message published through the API (mqtt/publish, delayed publish, ...): the broker's request with its publisher always named. */
import type { PublishProperties, PublishRequest } from '../broker/types.js'
import type { PublishRequestWire } from '../core/wire.js'
import { errors } from '../core/errors.js'
import { isValidTopicName } from './topics.js'

export type PublishMessage = Required<Omit<PublishRequest, 'properties'>> & Pick<PublishRequest, 'properties'>

type PropertiesWire = NonNullable<PublishRequestWire['properties']>

/** [MQTT-1.5.4]: an MQTT string is at most 65,535 bytes of UTF-8 and has no U+0000 (a v5 client closes the connection on one) */
const MAX_STRING_BYTES = 65535

function mqttString (value: string, name: string): string {
  if (value.includes('\u0000')) throw errors.badParam(`properties.${name}: contains U+0000`)
  if (Buffer.byteLength(value) > MAX_STRING_BYTES) throw errors.badParam(`properties.${name}: longer than ${MAX_STRING_BYTES} bytes`)
  return value
}

/**
 * The MQTT 5 properties of `POST /mqtt/publish` (EMQX v5's names, types checked by the spec) as
 * mqtt-packet's PUBLISH properties. What the schema cannot say is checked here, before anything is
 * published: MQTT strings, and a response topic that is a topic name.
 */
export function publishProperties (wire: PropertiesWire | undefined): PublishProperties | undefined {
  if (wire === undefined) return undefined
  const p: PublishProperties = {}
  if (wire.payload_format_indicator !== undefined) p.payloadFormatIndicator = wire.payload_format_indicator === 1
  // 0 would tell a subscriber the message expires at once [MQTT-3.3.2-5]; the API's 0 means "never", as absent
  if (wire.message_expiry_interval !== undefined && wire.message_expiry_interval > 0) p.messageExpiryInterval = wire.message_expiry_interval
  if (wire.content_type !== undefined) p.contentType = mqttString(wire.content_type, 'content_type')
  if (wire.response_topic !== undefined) {
    // [MQTT-3.3.2-14]: a topic name, no wildcards
    if (!isValidTopicName(wire.response_topic)) throw errors.badTopic('properties.response_topic: not a valid topic name')
    p.responseTopic = wire.response_topic
  }
  if (wire.correlation_data !== undefined) {
    const data = Buffer.from(wire.correlation_data, 'utf8')
    if (data.length > MAX_STRING_BYTES) throw errors.badParam(`properties.correlation_data: longer than ${MAX_STRING_BYTES} bytes`)
    p.correlationData = data
  }
  if (wire.user_properties !== undefined) {
    const user: Record<string, string> = {}
    for (const [k, v] of Object.entries(wire.user_properties)) {
      mqttString(k, 'user_properties (a name)')
      user[k] = mqttString(v, `user_properties.${k}`)
    }
    if (Object.keys(user).length > 0) p.userProperties = user
  }
  return Object.keys(p).length > 0 ? p : undefined
}
