/** emqx_mgmt_api_alarms: `/alarms/` groups by node, `/alarms/{node}` is one node's flat list. */
import type { Ctx, Input } from '../types.js'

export const alarms = {
  async list_all_alarms (_input: Input<'list_all_alarms'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ alarms: await n.alarms(), node: n.name })))
  },
  async list_node_alarms ({ path }: Input<'list_node_alarms'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).alarms()
  }
}
