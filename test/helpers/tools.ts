/**
 * Tools some tests call that `npm ci` cannot install (promtool, the Prometheus server,
 * docker-compose, systemd-analyze, kubectl). Where one is missing, the test that needs it skips
 * with one line naming the Debian package that provides it; `.ci/run` installs them all.
 */
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

/** The absolute path of an executable `command` on PATH, or null when there is none. */
export function findTool(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue
    const path = join(dir, command)
    try {
      accessSync(path, constants.X_OK)
      if (statSync(path).isFile()) return path
    } catch {}
  }
  return null
}

/** The skip line, as the tests print it. */
export function toolSkipMessage(command: string, debianPackage: string): string {
  return `skipped: ${command} not installed (Debian package "${debianPackage}"; .ci/run installs it)`
}

/**
 * The path of `command`; where it is not installed, prints the skip line and skips the running
 * test (call it at the top of an it(), with `this`, before anything the tool checks).
 */
export function needTool(ctx: Mocha.Context, command: string, debianPackage: string): string {
  const path = findTool(command)
  if (path === null) {
    console.log(`      ${toolSkipMessage(command, debianPackage)}`)
    ctx.skip()
  }
  return path
}
