/**
 * The child processes the launcher (tools/network/launch.ts) and the devnet start: each runs a
 * `sealmix` command from the esbuild bundle (plain JavaScript: no TypeScript compiler in every
 * child, so eleven of them start in about a second even on a busy machine). The supervisor reads
 * their output line by line, remembers each one's last error line, reports a child that exits
 * while the network runs (by name, with that line), and stops them all with a grace period.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { projectRoot } from '../../daemon/index.ts'

/** The CLI bundle from `npm run build`, which the devnet and the audit run as child processes. */
export const BUNDLE = join(projectRoot(import.meta.url), 'dist', 'sealmix.mjs')

export class DevnetError extends Error {}

/** The bundle's path; a DevnetError that says how to build it when it is missing. */
export function bundle(): string {
  if (!existsSync(BUNDLE)) throw new DevnetError(`${BUNDLE} is missing: run 'npm run build' first (npm start does)`)
  return BUNDLE
}

/** Run a sealmix command to completion (setup steps); its stdout, or an error naming the command with its last stderr line. */
export function sealmixSync(args: string[]): string {
  const r = spawnSync(process.execPath, [bundle(), ...args], { encoding: 'utf8' })
  if (r.status !== 0)
    throw new DevnetError(
      `sealmix ${args.slice(0, 3).join(' ')} failed: ${lastLine(r.stderr) ?? `exit ${String(r.status ?? r.signal)}`}`
    )
  return r.stdout
}

function lastLine(text: string): string | undefined {
  return text
    .trim()
    .split('\n')
    .filter(l => l.trim() !== '')
    .pop()
}

/** The message of a pino JSON line at level error or above, or a plain line as it is. */
function errorText(line: string): string | null {
  if (!line.startsWith('{')) return line.trim() === '' ? null : line.trim()
  try {
    const j = JSON.parse(line) as { level?: number; msg?: string; err?: unknown }
    if (typeof j.level === 'number' && j.level >= 50)
      return `${j.msg ?? ''}${j.err !== undefined ? `: ${String(typeof j.err === 'object' ? (j.err as { message?: string }).message : j.err)}` : ''}`
  } catch {
    /* not JSON after all */
  }
  return null
}

export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  /** The last line it wrote to stderr, or the last error it logged. */
  lastError: string | null
  exited: boolean
}

export interface SupervisorOptions {
  /** A child exited while the devnet was running (not stopping). */
  readonly onExit: (c: Child, how: string) => void
}

export class Supervisor {
  readonly #children: Child[] = []
  readonly #o: SupervisorOptions
  #stopping = false

  constructor(o: SupervisorOptions) {
    this.#o = o
  }

  get children(): readonly Child[] {
    return this.#children
  }
  /** The names of the children that exited. */
  get down(): string[] {
    return this.#children.filter(c => c.exited).map(c => c.name)
  }

  /** Start `sealmix ARGS` as `name`; `onLine` gets each stdout line (logs, JSON events), `onErrLine` each stderr line. */
  start(name: string, args: string[], onLine?: (line: string) => void, onErrLine?: (line: string) => void): Child {
    const proc = spawn(process.execPath, [bundle(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      // Detached, they would outlive a launcher killed with SIGKILL (cli/parent.ts); the devnet
      // reads their JSON log lines, whatever format the user's shell asks for.
      env: { ...process.env, SEALMIX_EXIT_WITH_PARENT: '1', SEALMIX_LOG_FORMAT: 'json' }
    })
    const c: Child = { name, proc, lastError: null, exited: false }
    createInterface({ input: proc.stdout! }).on('line', l => {
      const e = errorText(l)
      if (e !== null && l.startsWith('{')) c.lastError = e
      onLine?.(l)
    })
    createInterface({ input: proc.stderr! }).on('line', l => {
      const e = errorText(l)
      if (e !== null) c.lastError = e
      onErrLine?.(l)
    })
    proc.once('exit', (code, signal) => {
      c.exited = true
      if (!this.#stopping) this.#o.onExit(c, signal !== null ? `killed by ${signal}` : `exit status ${String(code)}`)
    })
    this.#children.push(c)
    return c
  }

  /**
   * Stop children: SIGTERM (a graceful stop for every sealmix command), SIGKILL what is left after
   * `graceMs` (a `graceMs` of 0: SIGKILL at once). Children run in their own process group, so a
   * Ctrl-C in the terminal reaches only the devnet, and each child gets exactly one signal from
   * it, in the order the devnet chooses.
   */
  async stop(which: readonly Child[], graceMs: number): Promise<void> {
    this.#stopping = true
    await Promise.all(
      which.map(
        async c =>
          await new Promise<void>(resolve => {
            const p = c.proc
            if (p.exitCode !== null || p.signalCode !== null) {
              resolve()
              return
            }
            if (graceMs <= 0) {
              p.once('exit', () => resolve())
              p.kill('SIGKILL')
              return
            }
            const kill = setTimeout(() => p.kill('SIGKILL'), graceMs)
            p.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            p.kill('SIGTERM')
          })
      )
    )
  }

  /** SIGKILL every child still running (the devnet itself is going away without an orderly stop). */
  killAll(): void {
    this.#stopping = true
    for (const c of this.#children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
  }
}
