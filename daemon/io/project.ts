/**
 * Where the project's own files are, from a module's `import.meta.url`: the nearest folder above
 * it that holds package.json. The same answer from a source file deep in a checkout and from the
 * bundle in dist/, which sits one folder below the project.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function projectRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl))
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('no package.json above this module')
    dir = up
  }
  return dir
}
