/**
 * Debian's chromium, driven by playwright-core (which downloads no browser of its own). Tests that
 * need it call `chromiumOrSkip(this)`: without the package they skip with one line naming it.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

/** The test output folder (screenshots): test-output/ in the checkout, not committed. */
export function testOutput(...parts: string[]): string {
  const dir = join(ROOT, 'test-output', ...parts.slice(0, -1))
  mkdirSync(dir, { recursive: true })
  return join(dir, parts.at(-1)!)
}

export function chromiumPath(): string | null {
  return CANDIDATES.find(p => existsSync(p)) ?? null
}

let said = false
/** The browser's path, or the test is skipped with one line (once per run) naming the package. */
export function chromiumOrSkip(ctx: Mocha.Context): string {
  const p = chromiumPath()
  if (p !== null) return p
  if (!said) console.log('      (skipped: no chromium; install the Debian package "chromium" to run the browser tests)')
  said = true
  ctx.skip()
}

/**
 * Headless, as root in a container needs (no sandbox), and without the background services whose
 * connections this machine's closed network refuses.
 */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage'
    ]
  })
}
