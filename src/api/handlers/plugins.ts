/** emqx_mgmt_api_plugins and plugin configs: only plugins that exist and work are listed. */
import type { Ctx, Input } from '../types.js'

export const plugins = {
  async list_all_plugins (_input: Input<'list_all_plugins'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ node: n.name, plugins: await n.plugins() })))
  },
  async list_node_plugins ({ path }: Input<'list_node_plugins'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).plugins()
  },
  async load_plugin ({ path }: Input<'load_plugin'>, { cluster }: Ctx) {
    await (await cluster.node(path.node)).loadPlugin(path.plugin)
    return 'ok' as const
  },
  async unload_plugin ({ path }: Input<'unload_plugin'>, { cluster }: Ctx) {
    await (await cluster.node(path.node)).unloadPlugin(path.plugin)
    return 'ok' as const
  },
  async get_plugin_configs ({ path }: Input<'get_plugin_configs'>, { cluster }: Ctx) {
    return (await cluster.node(path.node)).pluginConfigs(path.plugin)
  },
  async update_plugin_configs ({ path, body }: Input<'update_plugin_configs'>, { cluster }: Ctx) {
    await (await cluster.node(path.node)).setPluginConfigs(path.plugin, body)
    return 'ok' as const
  }
}
