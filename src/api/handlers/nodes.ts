/** emqx_mgmt_api_nodes: the list shows memory as kmg strings, the lookup as bytes (emqx-v3-semantics §4.2). */
import type { Ctx, Input, NodeInfoWire, NodeListItemWire } from '../types.js'
import { kmg } from '../../core/format.js'

export const nodes = {
  async list_nodes (_input: Input<'list_nodes'>, { cluster }: Ctx) {
    const all = await cluster.members()
    return Promise.all(all.map(async n => formatListItem(n.name, await n.nodeInfo())))
  },
  async get_node ({ path }: Input<'get_node'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).nodeInfo()
  }
}

function formatListItem (node: string, info: NodeInfoWire): NodeListItemWire {
  return { ...info, node, memory_total: kmg(info.memory_total), memory_used: kmg(info.memory_used) }
}
