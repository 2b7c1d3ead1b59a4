/** emqx_mgmt_api_metrics. */
import type { Ctx, Input } from '../types.js'

export const metrics = {
  async list_all_metrics (_input: Input<'list_all_metrics'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ node: n.name, metrics: await n.metrics() })))
  },
  async list_node_metrics ({ path }: Input<'list_node_metrics'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).metrics()
  }
}
