/**
 * Helpers of the hostile-disk and store tests: a relay as its own `sealmix run` process with its
 * output kept and its exit awaited, optionally inside a private mount namespace whose data
 * directory is a small tmpfs (so a full disk is real ENOSPC, and touches nothing else).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEALMIX } from '../helpers/bundle.ts'
import { PROJECT } from '../helpers/testnet.ts'
import { findTool } from '../helpers/tools.ts'

export interface RelayProc {
  readonly p: ChildProcess
  /** Resolves with the exit status (null: killed by a signal). */
  readonly exited: Promise<number | null>
  text: () => string
  /** The process's view of a path (through /proc/PID/root: its own mounts). */
  inside: (path: string) => string
  kill9: () => Promise<void>
}

/**
 * `sealmix run --config FILE` as a process. `tmpfs`: run it in a private mount namespace where
 * `tmpfs.dir` is a fresh tmpfs of `tmpfs.size` (e.g. '16m') holding a copy of `tmpfs.seed`.
 */
export function runRelay(
  configFile: string,
  o: { tmpfs?: { dir: string; seed: string; size: string } } = {}
): RelayProc {
  const argv = [...SEALMIX, 'run', '--config', configFile]
  const p =
    o.tmpfs === undefined
      ? spawn(process.execPath, argv, { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(
          'unshare',
          [
            '-m',
            'sh',
            '-c',
            'mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$2" && cp -a "$3"/. "$2"/ && shift 3 && exec "$@"',
            'sh',
            o.tmpfs.size,
            o.tmpfs.dir,
            o.tmpfs.seed,
            process.execPath,
            ...argv
          ],
          { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] }
        )
  const out: string[] = []
  p.stdout!.on('data', (d: Buffer) => out.push(d.toString()))
  p.stderr!.on('data', (d: Buffer) => out.push(d.toString()))
  const exited = new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  return {
    p,
    exited,
    text: () => out.join(''),
    inside: path => `/proc/${p.pid!}/root${path}`,
    kill9: async () => {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL')
        await exited
      }
    }
  }
}

/** Null when a tmpfs can be mounted in a private mount namespace here; else why not (the test skips with it). */
export function tmpfsUnavailable(): string | null {
  if (findTool('unshare') === null) return 'unshare not installed (Debian package "util-linux")'
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-tmpfs-probe-'))
  try {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$1"', 'sh', dir], {
      encoding: 'utf8'
    })
    return r.status === 0
      ? null
      : `cannot mount a tmpfs in a private mount namespace here (needs root or user namespaces): ${(r.stderr ?? '').trim().split('\n')[0] ?? ''}`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
