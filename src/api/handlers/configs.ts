/** emqx_mgmt_api_configs: hot configs, validated, applied at once and persisted. */
import type { Ctx, Input } from '../types.js'

export const configs = {
  async get_all_configs (_input: Input<'get_all_configs'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ config: await n.configs(), node: n.name })))
  },
  async get_node_configs ({ path }: Input<'get_node_configs'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).configs()
  },
  async update_config ({ path, body }: Input<'update_config'>, { cluster }: Ctx) {
    // Settings.set validates before writing, so a bad value fails on the first node and changes nothing
    for (const n of await cluster.nodes()) await n.setConfig(path.app, body.key, body.value)
    return 'ok' as const
  },
  async update_node_config ({ path, body }: Input<'update_node_config'>, { cluster }: Ctx) {
    await (await cluster.node(path.node)).setConfig(path.app, body.key, body.value)
    return 'ok' as const
  }
}
