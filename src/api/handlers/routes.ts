/** emqx_mgmt_api_routes: topic filter to node, sorted by topic then node. */
import type { Ctx, Input, RouteWire } from '../types.js'
import { acrossNodes } from '../../cluster/cluster.js'
import { listPage, routeFilter, type ListOrder } from '../query.js'
import { rowFields } from '../spec.js'

const byTopicThenNode = (a: RouteWire, b: RouteWire): number =>
  a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0

export const ROUTE_ORDER: ListOrder<RouteWire> = { order: ['topic', 'node'], sortable: ['topic', 'node'], fields: rowFields('RouteFields') }

export const routes = {
  async list_routes ({ query }: Input<'list_routes'>, { cluster }: Ctx) {
    const filter = routeFilter(query)
    return listPage(await acrossNodes(cluster, n => n.routes(filter)), query, ROUTE_ORDER)
  },
  async lookup_routes ({ path }: Input<'lookup_routes'>, { cluster }: Ctx) {
    return [...await acrossNodes(cluster, n => n.routesOf(path.topic))].sort(byTopicThenNode)
  }
}
