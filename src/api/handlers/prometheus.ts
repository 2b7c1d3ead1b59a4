/** EMQX v5's GET /prometheus/stats: the text exposition format of every live node, or their sum. */
import { acrossNodes, type Cluster } from '../../cluster/cluster.js'
import { CONTENT_TYPE, scrapeText } from '../../services/prometheus.js'
import { rawText } from '../raw.js'
import type { Ctx, Input } from '../types.js'

const alone = async (cluster: Cluster): Promise<boolean> => {
  const nodes = await cluster.nodes()
  return nodes.length === 1 && nodes[0]?.name === cluster.self
}

export const prometheus = {
  async prometheus_stats ({ query }: Input<'prometheus_stats'>, { cluster }: Ctx) {
    const mode = query.mode ?? 'all_nodes_unaggregated'
    // one node's series as they are: its own text, without merging
    if (mode === 'node' || (mode === 'all_nodes_unaggregated' && await alone(cluster))) {
      return rawText(CONTENT_TYPE, await (await cluster.node(cluster.self)).prometheusText())
    }
    const families = await acrossNodes(cluster, async n => [await n.prometheus()])
    return rawText(CONTENT_TYPE, await scrapeText(families, mode))
  }
}
