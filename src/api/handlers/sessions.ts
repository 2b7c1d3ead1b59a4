/** emqx_mgmt_api_sessions: connected clients' sessions and persistent sessions of offline clients. */
import type { Ctx, Input, SessionWire } from '../types.js'
import { acrossNodes, onAnyNode } from '../../cluster/cluster.js'
import { errors } from '../../core/errors.js'
import { clientFilter, listPage, type ListOrder } from '../query.js'

export const SESSION_ORDER: ListOrder<SessionWire> = {
  order: ['node', 'client_id'],
  sortable: ['client_id', 'username', 'created_at', 'mqueue_len', 'subscriptions_count', 'inflight_len', 'deliver_msg', 'enqueue_msg', 'mqueue_dropped', 'clean_start', 'node']
}

export const sessions = {
  async list_sessions ({ query }: Input<'list_sessions'>, { cluster }: Ctx) {
    const filter = clientFilter(query)
    return listPage(await acrossNodes(cluster, n => n.sessions(filter)), query, SESSION_ORDER)
  },
  async list_node_sessions ({ path, query }: Input<'list_node_sessions'>, { cluster }: Ctx) {
    const filter = clientFilter(query)
    return listPage(await (await cluster.node(path.node)).sessions(filter), query, SESSION_ORDER)
  },
  async lookup_session ({ path }: Input<'lookup_session'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.session(path.clientid))]
  },
  async discard_session ({ path }: Input<'discard_session'>, { cluster }: Ctx) {
    if (!await onAnyNode(cluster, n => n.discardSession(path.clientid))) throw errors.notFound('session_not_found')
    return 'ok' as const
  },
  async lookup_node_session ({ path }: Input<'lookup_node_session'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).session(path.clientid)
  }
}
