/**
 * emqx_mgmt_api_pubsub: answers `{"code": N}`: 0 done, 112 client not online, 115 bad topic
 * (DECISIONS.md). Every topic is checked before anything is published or subscribed.
 */
import type { Ctx, Input, PubSubBatchItemWire, PublishRequestWire, Qos, SubscribeRequestWire, UnsubscribeRequestWire } from '../types.js'
import type { Cluster } from '../../cluster/cluster.js'
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

/**
 * A batch's topics, every item checked before any is applied: a bad item is a 400 naming its
 * index and nothing of the batch happens (DECISIONS.md: nothing half-written).
 */
function batchTopics<B extends PublishRequestWire | SubscribeRequestWire | UnsubscribeRequestWire> (items: B[], valid: (t: string) => boolean, what: string): string[][] {
  return items.map((item, i) => {
    const topics = splitTopics(item)
    if (!topics) throw errors.missing(`item ${i}: missing mandatory params: topic; nothing was applied`)
    const bad = topics.find(t => !valid(t))
    if (bad !== undefined) throw errors.badTopic(`item ${i}: ${JSON.stringify(bad)} is not a valid ${what}; nothing was applied`)
    return topics
  })
}

const asSent = (b: PublishRequestWire | SubscribeRequestWire | UnsubscribeRequestWire): string => b.topic ?? b.topics ?? ''

/**
 * The seed's subscribe: a connected client on any node. `offline`: else an offline persistent
 * session on any node, else a new persistent session on this node (one node makes it, not each).
 */
async function subscribeOnBehalf (cluster: Cluster, clientId: string, filters: string[], qos: Qos, offline: boolean): Promise<boolean> {
  if (await onAnyNode(cluster, n => n.subscribe(clientId, filters, qos, offline ? 'offline' : 'online'))) return true
  return offline && await (await cluster.node(cluster.self)).subscribe(clientId, filters, qos, 'create')
}

/** any subscription on any live node: the topics of one publish */
const anySubscriber = async (cluster: Cluster, topics: string[]): Promise<boolean> => await onAnyNode(cluster, n => n.hasSubscriber(topics))

async function publishOne (ctx: Ctx, body: PublishRequestWire, topics: string[], properties: ReturnType<typeof publishProperties>): Promise<void> {
  const payload = Buffer.from(body.payload ?? '', 'utf8')
  for (const topic of topics) {
    await ctx.publish({ topic, payload, qos: body.qos ?? 0, retain: body.retain ?? false, clientId: body.client_id ?? 'http', ...properties === undefined ? {} : { properties } })
  }
}

export const pubsub = {
  async mqtt_publish ({ body, query }: Input<'mqtt_publish'>, ctx: Ctx) {
    const topics = topicsOf(body)
    if (!topics.every(isValidTopicName)) return badTopic
    const properties = publishProperties(body.properties)
    // asked before publishing: who was subscribed when the message went out
    const matched = query.with_matched === 'true' ? await anySubscriber(ctx.cluster, topics) : undefined
    await publishOne(ctx, body, topics, properties)
    return matched === undefined ? done : { ...done, matched }
  },
  async mqtt_publish_batch ({ body }: Input<'mqtt_publish_batch'>, ctx: Ctx) {
    const topics = batchTopics(body, isValidTopicName, 'topic name')
    // checked for every item before any is published, as the topics are
    const properties = body.map(item => publishProperties(item.properties))
    const data: PubSubBatchItemWire[] = []
    for (const [i, item] of body.entries()) {
      const matched = await anySubscriber(ctx.cluster, topics[i]!)
      await publishOne(ctx, item, topics[i]!, properties[i])
      data.push({ topic: asSent(item), code: ReturnCode.SUCCESS, matched })
    }
    return { code: ReturnCode.SUCCESS, data }
  },
  async mqtt_subscribe_batch ({ body, query }: Input<'mqtt_subscribe_batch'>, { cluster }: Ctx) {
    const filters = batchTopics(body, isValidTopicFilter, 'topic filter')
    const data: PubSubBatchItemWire[] = []
    for (const [i, item] of body.entries()) {
      const ok = await subscribeOnBehalf(cluster, item.client_id, filters[i]!, item.qos ?? 0, query.offline === 'true')
      data.push({ topic: asSent(item), client_id: item.client_id, code: ok ? ReturnCode.SUCCESS : ReturnCode.CLIENT_NOT_ONLINE })
    }
    return { code: ReturnCode.SUCCESS, data }
  },
  async mqtt_unsubscribe_batch ({ body, query }: Input<'mqtt_unsubscribe_batch'>, { cluster }: Ctx) {
    const filters = batchTopics(body, isValidTopicFilter, 'topic filter')
    const data: PubSubBatchItemWire[] = []
    for (const [i, item] of body.entries()) {
      const ok = await onAnyNode(cluster, n => n.unsubscribe(item.client_id, filters[i]!, query.offline === 'true'))
      data.push({ topic: asSent(item), client_id: item.client_id, code: ok ? ReturnCode.SUCCESS : ReturnCode.CLIENT_NOT_ONLINE })
    }
    return { code: ReturnCode.SUCCESS, data }
  },
  async mqtt_subscribe ({ body, query }: Input<'mqtt_subscribe'>, { cluster }: Ctx) {
    const filters = topicsOf(body)
    if (!filters.every(isValidTopicFilter)) return badTopic
    const ok = await subscribeOnBehalf(cluster, body.client_id, filters, body.qos ?? 0, query.offline === 'true')
    return ok ? done : notOnline
  },
  async mqtt_unsubscribe ({ body, query }: Input<'mqtt_unsubscribe'>, { cluster }: Ctx) {
    const filters = topicsOf(body)
    if (!filters.every(isValidTopicFilter)) return badTopic
    const ok = await onAnyNode(cluster, n => n.unsubscribe(body.client_id, filters, query.offline === 'true'))
    return ok ? done : notOnline
  }
}
