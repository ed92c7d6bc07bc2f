/**
 * Tests run `sealmix` commands from the esbuild bundle, as operators and the devnet do (a child
 * that loads TypeScript through tsx takes seconds to start on a busy machine). The bundle is
 * rebuilt once per mocha run (`mochaGlobalSetup`), so a test never runs an old build.
 */
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** `process.execPath` arguments that run a sealmix command: `spawn(process.execPath, [...SEALMIX, 'run', ...])`. */
export const SEALMIX: readonly string[] = [join(ROOT, 'dist', 'sealmix.mjs')]

export function mochaGlobalSetup(): void {
  // Every sealmix process a test starts stops when the process that started it is gone
  // (cli/parent.ts): a test run that dies leaves no relays behind to load the next one.
  process.env.SEALMIX_EXIT_WITH_PARENT = '1'
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
}
