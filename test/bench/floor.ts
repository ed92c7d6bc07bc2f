/**
 * Starts the latency floor (floor-relay.ts) as its own process, in one of the variants below, on
 * the bench relay's keys and the same sink, so that the relay bench can compare the relay's added
 * latency with what the bare structure costs on the same machine in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FloorSpec } from './floor-relay.ts'

export interface FloorVariant {
  readonly name: string
  readonly workers: number
  readonly tickMs: number
  readonly sync: boolean
  /** false: forward the packet as it came (transport and measurement only). */
  readonly unwrap: boolean
}

/** The relay's mandated steps, from all of them down to a bare echo over the same authenticated link. */
export const FLOORS: readonly FloorVariant[] = [
  { name: 'floor: 2 workers, 5 ms tick, synced write', workers: 2, tickMs: 5, sync: true, unwrap: true },
  { name: 'floor: 2 workers, 5 ms tick', workers: 2, tickMs: 5, sync: false, unwrap: true },
  { name: 'floor: inline unwrap, 5 ms tick, synced write', workers: 0, tickMs: 5, sync: true, unwrap: true },
  { name: 'floor: inline unwrap, forwarded at once', workers: 0, tickMs: 0, sync: false, unwrap: true },
  { name: 'floor: echo, forwarded at once', workers: 0, tickMs: 0, sync: false, unwrap: false }
]

export async function startFloor (v: FloorVariant, keys: Omit<FloorSpec, 'dataDir' | 'workers' | 'tickMs' | 'sync' | 'unwrap'>): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-floor-'))
  const spec: FloorSpec = { ...keys, dataDir: join(dir, 'db'), workers: v.workers, tickMs: v.tickMs, sync: v.sync, unwrap: v.unwrap }
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec))
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  const p = spawn(process.execPath, ['--import', 'tsx', 'test/bench/floor-relay.ts', join(dir, 'spec.json')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  p.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bench: ${v.name} did not start`)), 30_000)
    p.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve() } })
    p.once('exit', code => { clearTimeout(t); reject(new Error(`bench: ${v.name} exited (${String(code)})`)) })
  })
  return p
}
