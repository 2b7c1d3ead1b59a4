/** emqx_mgmt_api_listeners. */
import type { Ctx, Input } from '../types.js'

export const listeners = {
  async list_listeners (_input: Input<'list_listeners'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ listeners: await n.listeners(), node: n.name })))
  },
  async list_node_listeners ({ path }: Input<'list_node_listeners'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).listeners()
  }
}
