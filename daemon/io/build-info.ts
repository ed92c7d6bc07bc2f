/**
 * Which build this process runs: the package version, the commit it was built from and Node's
 * version. `sealmix version`, the sealmix_build_info gauge, /healthz, each program's first log
 * line and a relay's descriptor all say it from here, so that an operator (and the directory) see
 * the fleet's versions the same way everywhere.
 *
 * The commit is stamped into the bundle by `npm run build` (tools/build/node.ts, esbuild's
 * `define`): an installed copy or an image has no .git to ask. Where nothing was stamped (the
 * sources run through tsx) it is asked from git at run time, but only where the package root is
 * itself a checkout: otherwise git would report whatever repository happens to enclose an
 * installed copy. Else it is 'unknown'.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isSoftware } from '../../mix/index.ts'
import type { Logger } from './log.ts'
import { projectRoot } from './project.ts'

// esbuild replaces these with string literals in the bundle (tools/build/node.ts); anywhere else
// they are undeclared globals, whose `typeof` is 'undefined' (no ReferenceError).
declare const SEALMIX_BUILD_VERSION: string | undefined
declare const SEALMIX_BUILD_COMMIT: string | undefined

export interface BuildInfo {
  /** The package version (package.json), e.g. 0.1.0. */
  readonly version: string
  /** Short hex commit, or 'unknown'. */
  readonly commit: string
  /** Node's version, e.g. v24.11.0. */
  readonly node: string
}

/** A commit as `git rev-parse --short` writes it; anything else (a stamp gone wrong) is not believed. */
export const COMMIT_PATTERN = /^[0-9a-f]{4,64}$/
const VERSION_PATTERN = /^[0-9A-Za-z.+-]{1,64}$/

let cached: BuildInfo | null = null

/** This process's build, worked out once (git, if asked, is asked once). */
export function buildInfo(): BuildInfo {
  if (cached !== null) return cached
  const stampedVersion = typeof SEALMIX_BUILD_VERSION === 'string' ? SEALMIX_BUILD_VERSION : null
  const stampedCommit = typeof SEALMIX_BUILD_COMMIT === 'string' ? SEALMIX_BUILD_COMMIT : null
  const root = packageRoot()
  const version = [stampedVersion, root === null ? null : packageVersion(root)].find(
    v => v !== null && VERSION_PATTERN.test(v)
  )
  const commit = stampedCommit !== null && COMMIT_PATTERN.test(stampedCommit) ? stampedCommit : gitCommit(root)
  cached = { version: version ?? 'unknown', commit: commit ?? 'unknown', node: process.version }
  return cached
}

/** `sealmix 0.1.0 (abc1234)`; without the parenthesis when the commit is unknown. */
export function versionLine(b: BuildInfo = buildInfo()): string {
  return `sealmix ${b.version}${b.commit === 'unknown' ? '' : ` (${b.commit})`}`
}

/**
 * What a relay's descriptor says it runs: `sealmix/0.1.0+abc1234` (semver build metadata for the
 * commit), `sealmix/0.1.0` when the commit is unknown or does not fit the field's 32 characters,
 * and nothing when even that does not fit (mix/directory: isSoftware).
 */
export function softwareTag(b: BuildInfo = buildInfo()): string | undefined {
  const full = `sealmix/${b.version}+${b.commit}`
  if (b.commit !== 'unknown' && isSoftware(full)) return full
  const bare = `sealmix/${b.version}`
  return isSoftware(bare) ? bare : undefined
}

/**
 * The first line a long-running program logs, so that every log (and every bug report made from
 * one) says which build wrote it: `sealmix 0.1.0 (abc1234) starting relay`.
 */
export function startupLog(log: Logger, program: string): void {
  const b = buildInfo()
  log.info(
    { event: 'starting', program, version: b.version, commit: b.commit, node: b.node },
    `${versionLine(b)} starting ${program}`
  )
}

function packageRoot(): string | null {
  try {
    return projectRoot(import.meta.url)
  } catch {
    return null
  }
}

function packageVersion(root: string): string | null {
  try {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }
    return typeof version === 'string' ? version : null
  } catch {
    return null
  }
}

/** The checkout's commit, asked at run time; no git, or a git that refuses the directory: none. */
function gitCommit(root: string | null): string | null {
  if (root === null || !existsSync(join(root, '.git'))) return null
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const out = typeof r.stdout === 'string' ? r.stdout.trim() : ''
  return r.status === 0 && COMMIT_PATTERN.test(out) ? out : null
}
