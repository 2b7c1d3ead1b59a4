/** emqx_mgmt_api_stats: the cluster form flattens the node name into each node's stats. */
import type { Ctx, Input } from '../types.js'

export const stats = {
  async list_stats (_input: Input<'list_stats'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ node: n.name, ...await n.stats() })))
  },
  async lookup_node_stats ({ path }: Input<'lookup_node_stats'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).stats()
  }
}
