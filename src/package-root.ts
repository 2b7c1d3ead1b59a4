/** Files of the package (the spec, package.json), found from here whether running from src/ or dist/src/. */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function findUp (relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, relative)
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`${relative} not found above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}
