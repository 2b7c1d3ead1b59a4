/** emqx_mgmt_api_connections: lists across live nodes (filtered on each node), lookups as lists, kickout (404 when not connected). */
import type { ConnectionWire, Ctx, Input } from '../types.js'
import { acrossNodes, onAnyNode } from '../../cluster/cluster.js'
import { clientFilter, listPage, type ListOrder } from '../query.js'
import { isEmpty } from '../../cluster/list-filter.js'
import { rowFields } from '../spec.js'
import { errors } from '../../core/errors.js'

export const CONNECTION_ORDER: ListOrder<ConnectionWire> = {
  order: ['node', 'client_id'],
  sortable: ['client_id', 'username', 'ipaddress', 'port', 'connected_at', 'proto_ver', 'keepalive', 'clean_start', 'node'],
  fields: rowFields('ConnectionFields')
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
  /**
   * By ids (the body) or by filter (the query), never both, never neither: a bulk kick of everyone
   * is not something to get by leaving a filter out. Each node kicks those connected to it.
   */
  async kickout_connections_bulk ({ query, body }: Input<'kickout_connections_bulk'>, { cluster }: Ctx) {
    const filter = clientFilter(query)
    const dryRun = query.dry_run === 'true'
    // without a body the parser leaves an empty object; a body that is there is an array (the validator)
    const list = Array.isArray(body) ? body : undefined
    if ((list !== undefined) === !isEmpty(filter)) throw errors.badParam('give either a body with client ids or at least one filter, not both')
    const ids = list !== undefined ? [...new Set(list)] : (await acrossNodes(cluster, n => n.connections(filter))).map(c => c.client_id)
    const done = new Set(await acrossNodes(cluster, n => n.kickoutMany(ids, dryRun)))
    const clientids = [...done].sort()
    return { dry_run: dryRun, count: clientids.length, clientids, not_found: ids.filter(id => !done.has(id)) }
  },
  async clean_acl_cache ({ path }: Input<'clean_acl_cache'>, { cluster }: Ctx) {
    if (!await onAnyNode(cluster, n => n.cleanAclCache(path.clientid, path.topic))) throw errors.clientNotFound()
    return 'ok' as const
  }
}
