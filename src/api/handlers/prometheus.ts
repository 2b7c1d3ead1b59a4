/** EMQX v5's GET /prometheus/stats: the text exposition format of every live node, or their sum. */
import { acrossNodes } from '../../cluster/cluster.js'
import { CONTENT_TYPE, scrapeText } from '../../services/prometheus.js'
import { rawText } from '../raw.js'
import type { Ctx, Input } from '../types.js'

export const prometheus = {
  async prometheus_stats ({ query }: Input<'prometheus_stats'>, { cluster }: Ctx) {
    const mode = query.mode ?? 'all_nodes_unaggregated'
    const families = mode === 'node'
      ? [await (await cluster.node(cluster.self)).prometheus()]
      : await acrossNodes(cluster, async n => [await n.prometheus()])
    return rawText(CONTENT_TYPE, await scrapeText(families, mode))
  }
}
