/**
 * The Node bundles (part of `npm run build`): dist/sealmix.mjs (the CLI and every program) and
 * dist/unwrap-worker.mjs (the relay's unwrap workers), with the version and the commit stamped
 * into the CLI bundle (esbuild `define`, read by daemon/io/build-info.ts): an installed copy or an
 * image has no .git to ask at run time. The commit is SEALMIX_COMMIT when set (an image build,
 * where the sources are copied without .git: `docker build --build-arg SEALMIX_COMMIT=$(git
 * rev-parse --short HEAD)`), else the checkout's; neither: nothing is stamped, and the program
 * asks git at run time or says 'unknown'.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/**
 * daemon/io/build-info.ts's COMMIT_PATTERN, which checks the stamp again at run time; not imported
 * from there, because daemon/index.ts would load every program into a build script.
 */
const COMMIT = /^[0-9a-f]{4,64}$/

export const NODE_OUTPUTS = {
  cli: 'dist/sealmix.mjs',
  worker: 'dist/unwrap-worker.mjs'
} as const

/** The commit to stamp: SEALMIX_COMMIT, else the checkout's short HEAD, else null. */
export function buildCommit(
  root: string = ROOT,
  env: Readonly<Record<string, string | undefined>> = process.env
): string | null {
  const given = env.SEALMIX_COMMIT?.trim()
  if (given !== undefined && given !== '') {
    if (!COMMIT.test(given)) throw new Error(`SEALMIX_COMMIT must be a hex commit (got ${given})`)
    return given
  }
  if (!existsSync(join(root, '.git'))) return null
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const out = typeof r.stdout === 'string' ? r.stdout.trim() : ''
  return r.status === 0 && COMMIT.test(out) ? out : null
}

/** esbuild `define` entries for daemon/io/build-info.ts: string literals, as JSON. */
export function buildStamp(root: string = ROOT, commit: string | null = buildCommit(root)): Record<string, string> {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  return {
    SEALMIX_BUILD_VERSION: JSON.stringify(version),
    ...(commit === null ? {} : { SEALMIX_BUILD_COMMIT: JSON.stringify(commit) })
  }
}

/** The settings both bundles share (packages stay imports: node_modules is installed beside dist/). */
export const NODE_BUILD = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
  absWorkingDir: ROOT
} as const

async function main(): Promise<void> {
  await build({ ...NODE_BUILD, entryPoints: ['daemon/relay/unwrap/worker.ts'], outfile: NODE_OUTPUTS.worker })
  await build({ ...NODE_BUILD, entryPoints: ['cli/index.ts'], outfile: NODE_OUTPUTS.cli, define: buildStamp() })
}

// Run as a script (npm run build), not when a test imports the stamp.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
