/**
 * A sealmix program run from the bundle as its own process, its output kept line by line (stdout
 * and stderr together), for tests that signal it and read what it logs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { SEALMIX } from './bundle.ts'
import { PROJECT, waitFor } from './testnet.ts'

export interface Program {
  readonly p: ChildProcess
  readonly lines: string[]
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  exited: boolean
}

export function runProgram(args: string[]): Program {
  const p = spawn(process.execPath, [...SEALMIX, ...args], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const partial = { out: '', err: '' }
  const collect =
    (which: 'out' | 'err') =>
    (d: Buffer): void => {
      const parts = (partial[which] + d.toString()).split('\n')
      partial[which] = parts.pop()!
      lines.push(...parts)
    }
  p.stdout!.on('data', collect('out'))
  p.stderr!.on('data', collect('err'))
  const proc: Program = {
    p,
    lines,
    exited: false,
    exit: new Promise(resolve =>
      p.once('exit', (code, signal) => {
        proc.exited = true
        resolve({ code, signal })
      })
    )
  }
  return proc
}

/** Wait for a line matching `re`, from line `from` on; the program ending first fails at once, with its output. */
export async function programLine(
  proc: Program,
  re: RegExp,
  what: string,
  o: { from?: number; ms?: number } = {}
): Promise<string> {
  const found = (): string | undefined => proc.lines.slice(o.from ?? 0).find(l => re.test(l))
  await waitFor(
    () => {
      if (found() !== undefined) return true
      if (proc.exited)
        throw new Error(
          `the program ended (exit ${String(proc.p.exitCode)}, signal ${String(proc.p.signalCode)}) before ${what}:\n${proc.lines.slice(-8).join('\n')}`
        )
      return false
    },
    o.ms ?? 30_000,
    what
  )
  return found()!
}

/** Signal it (unless it has exited) and wait for its exit. */
export async function stopProgram(
  proc: Program,
  signal: NodeJS.Signals = 'SIGTERM'
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (!proc.exited) proc.p.kill(signal)
  return await proc.exit
}
