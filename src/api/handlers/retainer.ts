/**
 * EMQX v5's retainer API under /api/v3/. Retained messages are shared by the nodes of a cluster
 * (one persistence), so this node's view is the cluster's: no union over nodes.
 */
import type { Ctx, Input, RetainedMessageWire } from '../types.js'
import { errors } from '../../core/errors.js'
import { listPage, retainedFilter, topicName, type ListOrder } from '../query.js'
import { rowFields } from '../spec.js'

const RETAINED_ORDER: ListOrder<RetainedMessageWire> = { order: ['topic'], sortable: ['topic', 'qos', 'publish_at'], fields: rowFields('RetainedMessageSummaryFields') }

export const retainer = {
  async list_retained_messages ({ query }: Input<'list_retained_messages'>, { cluster }: Ctx) {
    const rows = await (await cluster.node(cluster.self)).retainedMessages(retainedFilter(query._match_topic), false)
    return listPage(rows, query, RETAINED_ORDER)
  },
  async clear_retained_messages ({ query }: Input<'clear_retained_messages'>, { cluster }: Ctx) {
    return { deleted: await (await cluster.node(cluster.self)).removeRetained(retainedFilter(query._match_topic)) }
  },
  async lookup_retained_message ({ path }: Input<'lookup_retained_message'>, { cluster }: Ctx) {
    const [m] = await (await cluster.node(cluster.self)).retainedMessages(topicName(path.topic), true)
    if (m === undefined || m.payload === undefined) throw errors.notFound('retained_message_not_found')
    return { ...m, payload: m.payload }
  },
  async delete_retained_message ({ path }: Input<'delete_retained_message'>, { cluster }: Ctx) {
    if (await (await cluster.node(cluster.self)).removeRetained(topicName(path.topic)) === 0) throw errors.notFound('retained_message_not_found')
    return 'ok' as const
  }
}
