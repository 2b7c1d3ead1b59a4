/**
 * emqx_mgmt_api_pubsub: answers `{"code": N}`: 0 done, 112 client not online, 115 bad topic
 * (DECISIONS.md). Every topic is checked before anything is published or subscribed.
 */
import type { Ctx, Input, PublishRequestWire, SubscribeRequestWire, UnsubscribeRequestWire } from '../types.js'
import { onAnyNode } from '../../cluster/cluster.js'
import { errors, ReturnCode } from '../../core/errors.js'
import { isValidTopicFilter, isValidTopicName, splitTopics } from '../../services/topics.js'
import { publishProperties } from '../../services/publish.js'

const done = { code: ReturnCode.SUCCESS } as const
const badTopic = { code: ReturnCode.BAD_TOPIC } as const
const notOnline = { code: ReturnCode.CLIENT_NOT_ONLINE } as const

function topicsOf (body: PublishRequestWire | SubscribeRequestWire | UnsubscribeRequestWire): string[] {
  const topics = splitTopics(body)
  if (!topics) throw errors.missing('missing mandatory params: topic')
  return topics
}

export const pubsub = {
  async mqtt_publish ({ body }: Input<'mqtt_publish'>, ctx: Ctx) {
    const topics = topicsOf(body)
    if (!topics.every(isValidTopicName)) return badTopic
    const payload = Buffer.from(body.payload ?? '', 'utf8')
    const properties = publishProperties(body.properties)
    for (const topic of topics) {
      await ctx.publish({ topic, payload, qos: body.qos ?? 0, retain: body.retain ?? false, clientId: body.client_id ?? 'http', ...properties === undefined ? {} : { properties } })
    }
    return done
  },
  async mqtt_subscribe ({ body }: Input<'mqtt_subscribe'>, { cluster }: Ctx) {
    const filters = topicsOf(body)
    if (!filters.every(isValidTopicFilter)) return badTopic
    const ok = await onAnyNode(cluster, n => n.subscribe(body.client_id, filters, body.qos ?? 0))
    return ok ? done : notOnline
  },
  async mqtt_unsubscribe ({ body }: Input<'mqtt_unsubscribe'>, { cluster }: Ctx) {
    const filters = topicsOf(body)
    if (!filters.every(isValidTopicFilter)) return badTopic
    const ok = await onAnyNode(cluster, n => n.unsubscribe(body.client_id, filters))
    return ok ? done : notOnline
  }
}
