/** emqx_mgmt_api_connections: lists across live nodes (filtered on each node), lookups as lists, kickout (404 when not connected). */
import type { ConnectionWire, Ctx, Input } from '../types.js'
import { acrossNodes, onAnyNode } from '../../cluster/cluster.js'
import { clientFilter, listPage, type ListOrder } from '../query.js'
import { errors } from '../../core/errors.js'

export const CONNECTION_ORDER: ListOrder<ConnectionWire> = {
  order: ['node', 'client_id'],
  sortable: ['client_id', 'username', 'ipaddress', 'port', 'connected_at', 'proto_ver', 'keepalive', 'clean_start', 'node']
}

export const connections = {
  async list_connections ({ query }: Input<'list_connections'>, { cluster }: Ctx) {
    const filter = clientFilter(query)
    return listPage(await acrossNodes(cluster, n => n.connections(filter)), query, CONNECTION_ORDER)
  },
  async list_node_connections ({ path, query }: Input<'list_node_connections'>, { cluster }: Ctx) {
    const filter = clientFilter(query)
    return listPage(await (await cluster.node(path.node)).connections(filter), query, CONNECTION_ORDER)
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
