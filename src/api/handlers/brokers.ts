/** emqx_mgmt_api_brokers: broker info per node. */
import type { Ctx, Input } from '../types.js'

export const brokers = {
  async list_brokers (_input: Input<'list_brokers'>, { cluster }: Ctx) {
    const nodes = await cluster.members()
    return Promise.all(nodes.map(async n => ({ ...await n.brokerInfo(), node: n.name })))
  },
  async get_broker ({ path }: Input<'get_broker'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).brokerInfo()
  }
}
