/** emqx_mgmt_api_sessions: connected clients' sessions and persistent sessions of offline clients. */
import type { Cluster } from '../../cluster/cluster.js'
import type { Ctx, Input, SessionMessageWire, SessionWire } from '../types.js'
import { acrossNodes, onAnyNode } from '../../cluster/cluster.js'
import { errors } from '../../core/errors.js'
import { clientFilter, listPage, queuePage, type ListOrder } from '../query.js'
import { rowFields } from '../spec.js'

export const SESSION_ORDER: ListOrder<SessionWire> = {
  order: ['node', 'client_id'],
  sortable: ['client_id', 'username', 'created_at', 'mqueue_len', 'subscriptions_count', 'inflight_len', 'deliver_msg', 'enqueue_msg', 'mqueue_dropped', 'clean_start', 'node'],
  fields: rowFields('SessionFields')
}

const INFLIGHT_ORDER: ListOrder<SessionMessageWire> = { order: ['packet_id'], sortable: [] }

/** The session's messages on the node that has it (a session lives on one node); 404 when none has it. */
async function sessionMessages (cluster: Cluster, clientId: string, kind: 'mqueue' | 'inflight'): Promise<SessionMessageWire[]> {
  const found = (await acrossNodes(cluster, async n => [await n.sessionMessages(clientId, kind)])).filter(x => x !== null)
  if (found.length === 0) throw errors.notFound('session_not_found')
  return found.flat()
}

export const sessions = {
  async list_session_mqueue_messages ({ path, query }: Input<'list_session_mqueue_messages'>, { cluster }: Ctx) {
    return queuePage(await sessionMessages(cluster, path.clientid, 'mqueue'), query, m => m.msgid)
  },
  async list_session_inflight_messages ({ path, query }: Input<'list_session_inflight_messages'>, { cluster }: Ctx) {
    return listPage(await sessionMessages(cluster, path.clientid, 'inflight'), query, INFLIGHT_ORDER)
  },
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
