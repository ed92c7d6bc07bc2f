/** `sealmix version` and `sealmix --version`: `sealmix 0.1.0 (abc1234)`, the commit only where it can be known. */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// cli/version.ts (run through tsx) and dist/sealmix.mjs (the bundle, which inlines this module)
// both sit one directory below the package root.
const ROOT = fileURLToPath(new URL('..', import.meta.url))

export function versionLine(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const commit = gitCommit()
  return `sealmix ${version}${commit === null ? '' : ` (${commit})`}`
}

/**
 * The checkout's commit, asked at run time: the build is a plain npm script, so there is no
 * stamping step to bake it in. Only where the package root is itself a checkout: otherwise git
 * would report whatever repository happens to enclose an installed copy. No git, or a git that
 * refuses the directory: no commit.
 */
function gitCommit(): string | null {
  if (!existsSync(join(ROOT, '.git'))) return null
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const out = typeof r.stdout === 'string' ? r.stdout.trim() : ''
  return r.status === 0 && /^[0-9a-f]{4,64}$/.test(out) ? out : null
}
