/** emqx_mgmt_api_connections: lists across live nodes, lookups as lists, kickout (404 when not connected). */
import type { Ctx, Input } from '../types.js'
import { acrossNodes, onAnyNode } from '../../cluster/cluster.js'
import { paginate } from '../paging.js'
import { errors } from '../../core/errors.js'

export const connections = {
  async list_connections ({ query }: Input<'list_connections'>, { cluster }: Ctx) {
    return paginate(await acrossNodes(cluster, n => n.connections()), query)
  },
  async list_node_connections ({ path, query }: Input<'list_node_connections'>, { cluster }: Ctx) {
    return paginate(await (await cluster.node(path.node)).connections(), query)
  },
  async lookup_connections ({ path }: Input<'lookup_connections'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.connection(path.clientid))]
  },
  async lookup_node_connections ({ path }: Input<'lookup_node_connections'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).connection(path.clientid)
  },
  async kickout_connection ({ path }: Input<'kickout_connection'>, { cluster }: Ctx) {
    if (!await onAnyNode(cluster, n => n.kickout(path.clientid))) throw errors.clientNotFound()
    return 'ok' as const
  },
  async clean_acl_cache ({ path }: Input<'clean_acl_cache'>, { cluster }: Ctx) {
    if (!await onAnyNode(cluster, n => n.cleanAclCache(path.clientid, path.topic))) throw errors.clientNotFound()
    return 'ok' as const
  }
}
