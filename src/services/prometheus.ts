/**
 * Prometheus figures of one node, made with prom-client: the broker's counters (/metrics) and
 * gauges (/stats) under EMQX v5's names (`emqx_` + the name with `/` as `_`), plus prom-client's
 * default process and event-loop metrics, all labelled `node`. A scrape reads the counters the
 * broker keeps anyway (Metrics.all/stats): its cost does not grow with the number of clients.
 *
 * Nodes hand each other their figures as prom-client's JSON (getMetricsAsJSON); the text of a
 * cluster is made from those by prom-client's own AggregatorRegistry (`scrapeText`).
 */
import type { SettingDef } from './settings.js'
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client'

/** `prometheus.auth` (app emqx): scrapes need the API's credentials */
export const PROMETHEUS_SETTINGS: SettingDef[] = [
  { key: 'prometheus.auth', app: 'emqx', datatype: 'boolean', datatpye: 'enum', desc: 'GET /api/v3/prometheus/stats needs the API\'s credentials (false: open to any scraper)', default: 'false' }
]

export type PromFamily = MetricObjectWithValues<MetricValue<string>>

/** EMQX v5's modes of GET /prometheus/stats */
export type ScrapeMode = 'node' | 'all_nodes_unaggregated' | 'all_nodes_aggregated'

/** /metrics names that are levels, not running totals */
const GAUGE_METRICS = new Set(['messages/retained'])

/**
 * prom-client default metrics whose collection walks every open handle, resource or file descriptor:
 * a cost per client on each scrape (process_open_fds alone, a readdir of /proc/self/fd, took 25 ms at
 * 8,000 descriptors). emqx_connections_count and process_max_fds stay.
 */
const PER_HANDLE_METRICS = [
  'nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_requests', 'nodejs_active_requests_total',
  'nodejs_active_resources', 'nodejs_active_resources_total', 'process_open_fds'
]

export function promName (emqxName: string): string {
  return `emqx_${emqxName.replace(/[/.-]/g, '_')}`
}

export interface PromSources {
  node: string
  metrics: () => Record<string, number>
  stats: () => Record<string, number>
}

export class NodePrometheus {
  private readonly registry = new Registry()

  constructor (src: PromSources) {
    this.registry.setDefaultLabels({ node: src.node })
    // one collector per family reading the whole table once per scrape, not once per name
    let metrics: Record<string, number> = {}
    let stats: Record<string, number> = {}
    const first = (): void => { metrics = src.metrics(); stats = src.stats() }
    const names = { metrics: Object.keys(src.metrics()), stats: Object.keys(src.stats()) }
    names.metrics.forEach((n, i) => {
      const read = (): number => { if (i === 0) first(); return metrics[n] ?? 0 }
      const help = `EMQ X metric ${n} (GET /metrics)`
      if (GAUGE_METRICS.has(n)) {
        new Gauge({ name: promName(n), help, registers: [this.registry], collect () { this.set(read()) } }) // eslint-disable-line no-new
      } else {
        // a Counter has no set(): the kept total is put back each scrape
        new Counter({ name: promName(n), help, registers: [this.registry], collect () { this.reset(); this.inc(read()) } }) // eslint-disable-line no-new
      }
    })
    for (const n of names.stats) {
      new Gauge({ name: promName(n), help: `EMQ X stat ${n} (GET /stats)`, registers: [this.registry], collect () { this.set(stats[n] ?? 0) } }) // eslint-disable-line no-new
    }
    collectDefaultMetrics({ register: this.registry })
    // these list every handle (every client's socket) on each scrape: left out
    for (const n of PER_HANDLE_METRICS) this.registry.removeSingleMetric(n)
  }

  /**
   * This node's exposition text, straight from its registry: a scrape of one node skips the JSON
   * round and AggregatorRegistry, which builds a registry of new metric objects per scrape (the
   * profile's largest share of a scrape, and garbage on a heap that holds 15,000 clients).
   */
  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  /** this node's families as prom-client JSON (what a peer sends over RPC) */
  async families (): Promise<PromFamily[]> {
    return await this.registry.getMetricsAsJSON()
  }
}

/**
 * One exposition text from the nodes' families. Per node (`node`, `all_nodes_unaggregated`) every series keeps
 * its `node` label; `all_nodes_aggregated` drops the label and sums each series over the nodes
 * (prom-client's aggregators: sums, except its own choices for version and start time).
 */
export async function scrapeText (perNode: ReadonlyArray<readonly PromFamily[]>, mode: ScrapeMode): Promise<string> {
  const input = perNode.map(families => families.map(f => mode === 'all_nodes_aggregated'
    ? { ...f, values: f.values.map(v => ({ ...v, labels: withoutNode(v.labels) })) }
    // distinct node labels never meet, so "sum" passes each series through, 'omit' ones too
    : { ...f, aggregator: 'sum' as const }))
  return await AggregatorRegistry.aggregate(input as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics()
}

function withoutNode (labels: Partial<Record<string, string | number>>): Partial<Record<string, string | number>> {
  const { node: _node, ...rest } = labels
  return rest
}

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE
