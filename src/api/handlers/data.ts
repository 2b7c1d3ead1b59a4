/** Backup and restore (EMQX v5's /data/export and /data/import), by src/services/data-transfer.ts. */
import type { Ctx, Input } from '../types.js'

export const data = {
  async export_data (_input: Input<'export_data'>, ctx: Ctx) {
    return await ctx.dataTransfer.export()
  },
  async import_data ({ query, body }: Input<'import_data'>, ctx: Ctx) {
    const dryRun = query.dry_run === 'true'
    return { dry_run: dryRun, sections: await ctx.dataTransfer.import(body, dryRun) }
  }
}
