/** emqx_mgmt_api_sessions: connected clients' sessions and persistent sessions of offline clients. */
import type { Ctx, Input } from '../types.js'
import { acrossNodes } from '../../cluster/cluster.js'
import { paginate } from '../paging.js'

export const sessions = {
  async list_sessions ({ query }: Input<'list_sessions'>, { cluster }: Ctx) {
    return paginate(await acrossNodes(cluster, n => n.sessions()), query)
  },
  async list_node_sessions ({ path, query }: Input<'list_node_sessions'>, { cluster }: Ctx) {
    return paginate(await (await cluster.node(path.node)).sessions(), query)
  },
  async lookup_session ({ path }: Input<'lookup_session'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.session(path.clientid))]
  },
  async lookup_node_session ({ path }: Input<'lookup_node_session'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).session(path.clientid)
  }
}
