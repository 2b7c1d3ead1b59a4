/** EMQX v4's alarm history: /alarms/activated and /alarms/deactivated (the seed's /alarms stays in alarms.ts). */
import { onAnyNode } from '../../cluster/cluster.js'
import { errors } from '../../core/errors.js'
import { historyWire } from '../../services/alarm-history.js'
import type { Ctx, Input } from '../types.js'

export const alarmHistory = {
  async list_activated_alarms (_input: Input<'list_activated_alarms'>, { cluster }: Ctx) {
    const all = await cluster.nodes()
    return Promise.all(all.map(async n => ({ node: n.name, alarms: await n.activatedAlarms() })))
  },
  async list_deactivated_alarms (_input: Input<'list_deactivated_alarms'>, ctx: Ctx) {
    return historyWire(await ctx.alarmHistory.list())
  },
  async deactivate_alarm ({ body }: Input<'deactivate_alarm'>, { cluster }: Ctx) {
    const done = body.node === undefined
      ? await onAnyNode(cluster, async n => await n.deactivateAlarm(body.name))
      : await (await cluster.node(body.node)).deactivateAlarm(body.name)
    if (!done) throw errors.notFound('alarm_not_active')
    return 'ok' as const
  },
  async clear_deactivated_alarms (_input: Input<'clear_deactivated_alarms'>, ctx: Ctx) {
    await ctx.alarmHistory.clear()
    return 'ok' as const
  }
}
