/** emqx_mgmt_api_subscriptions. */
import type { Ctx, Input, SubscriptionWire } from '../types.js'
import { acrossNodes } from '../../cluster/cluster.js'
import { listPage, subscriptionFilter, type ListOrder } from '../query.js'
import { rowFields } from '../spec.js'

export const SUBSCRIPTION_ORDER: ListOrder<SubscriptionWire> = {
  order: ['node', 'client_id', 'topic'],
  sortable: ['client_id', 'topic', 'qos', 'node'],
  fields: rowFields('SubscriptionFields')
}

export const subscriptions = {
  async list_subscriptions ({ query }: Input<'list_subscriptions'>, { cluster }: Ctx) {
    const filter = subscriptionFilter(query)
    return listPage(await acrossNodes(cluster, n => n.subscriptions(filter)), query, SUBSCRIPTION_ORDER)
  },
  async list_node_subscriptions ({ path, query }: Input<'list_node_subscriptions'>, { cluster }: Ctx) {
    const filter = subscriptionFilter(query)
    return listPage(await (await cluster.node(path.node)).subscriptions(filter), query, SUBSCRIPTION_ORDER)
  },
  async lookup_client_subscriptions ({ path }: Input<'lookup_client_subscriptions'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.subscriptionsOf(path.clientid))]
  },
  async lookup_client_subscriptions_with_node ({ path }: Input<'lookup_client_subscriptions_with_node'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).subscriptionsOf(path.clientid)
  }
}
