/** emqx_mgmt_api_subscriptions. */
import type { Ctx, Input } from '../types.js'
import { acrossNodes } from '../../cluster/cluster.js'
import { paginate } from '../paging.js'

export const subscriptions = {
  async list_subscriptions ({ query }: Input<'list_subscriptions'>, { cluster }: Ctx) {
    return paginate(await acrossNodes(cluster, n => n.subscriptions()), query)
  },
  async list_node_subscriptions ({ path, query }: Input<'list_node_subscriptions'>, { cluster }: Ctx) {
    return paginate(await (await cluster.node(path.node)).subscriptions(), query)
  },
  async lookup_client_subscriptions ({ path }: Input<'lookup_client_subscriptions'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.subscriptionsOf(path.clientid))]
  },
  async lookup_client_subscriptions_with_node ({ path }: Input<'lookup_client_subscriptions_with_node'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).subscriptionsOf(path.clientid)
  }
}
