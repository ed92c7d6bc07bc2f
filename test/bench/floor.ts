/**
 * Starts the latency floor (floor-relay.ts) as its own process, in one of the variants below, on
 * the bench relay's keys and the same sink, so that the relay bench can compare the relay's added
 * latency with what the bare structure costs on the same machine in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { FloorSpec } from './floor-relay.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BUNDLES = join(ROOT, 'dist', 'bench')
let bundled: Promise<void> | undefined

/**
 * The floor and its worker as esbuild bundles (dist/bench/), with the options `npm run build`
 * gives the relay's (dist/sealmix.mjs, dist/unwrap-worker.mjs): the floors and the relay they are
 * compared with run the same kind of build, not one of them TypeScript through tsx. Built once
 * per process, from the current sources.
 */
export async function buildFloors(): Promise<void> {
  bundled ??= (async () => {
    for (const name of ['floor-relay', 'floor-worker']) {
      await build({
        entryPoints: [join(ROOT, 'test', 'bench', `${name}.ts`)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        logLevel: 'warning',
        outfile: join(BUNDLES, `${name}.mjs`)
      })
    }
  })()
  await bundled
}

export interface Floor {
  readonly proc: ChildProcess
  ticks: () => { count: number; sumMs: number }
}

export interface FloorVariant {
  readonly name: string
  readonly workers: number
  readonly tickMs: number
  readonly sync: boolean
  /** false: forward the packet as it came (transport and measurement only). */
  readonly unwrap: boolean
  /** Hand packets to the workers through the relay's shared-memory rings (else by message, a batch per turn). */
  readonly ring?: boolean
}

/** The relay's mandated steps, from all of them down to a bare echo over the same authenticated link. */
export const FLOORS: readonly FloorVariant[] = [
  { name: 'floor: 2 workers, 5 ms tick, synced write', workers: 2, tickMs: 5, sync: true, unwrap: true },
  {
    name: 'floor: 2 workers on rings, 5 ms tick, synced write',
    workers: 2,
    tickMs: 5,
    sync: true,
    unwrap: true,
    ring: true
  },
  { name: 'floor: 2 workers, 5 ms tick', workers: 2, tickMs: 5, sync: false, unwrap: true },
  { name: 'floor: inline unwrap, 5 ms tick, synced write', workers: 0, tickMs: 5, sync: true, unwrap: true },
  { name: 'floor: inline unwrap, forwarded at once', workers: 0, tickMs: 0, sync: false, unwrap: true },
  { name: 'floor: echo, forwarded at once', workers: 0, tickMs: 0, sync: false, unwrap: false }
]

export async function startFloor(
  v: FloorVariant,
  keys: Omit<FloorSpec, 'dataDir' | 'workers' | 'tickMs' | 'sync' | 'unwrap' | 'ring' | 'worker'>
): Promise<Floor> {
  await buildFloors()
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-floor-'))
  const spec: FloorSpec = {
    ...keys,
    dataDir: join(dir, 'db'),
    workers: v.workers,
    tickMs: v.tickMs,
    sync: v.sync,
    unwrap: v.unwrap,
    ring: v.ring === true,
    worker: join(BUNDLES, 'floor-worker.mjs')
  }
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec))
  const p = spawn(process.execPath, [join(BUNDLES, 'floor-relay.mjs'), join(dir, 'spec.json')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  p.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const ticks = { count: 0, sumMs: 0 }
  let rest = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bench: ${v.name} did not start`)), 30_000)
    p.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n')
      rest = lines.pop()!
      for (const l of lines) {
        if (l === 'ready') {
          clearTimeout(t)
          resolve()
        }
        const m = /^ticks (\d+) ([\d.]+)$/.exec(l)
        if (m !== null) {
          ticks.count = Number(m[1])
          ticks.sumMs = Number(m[2])
        }
      }
    })
    p.once('exit', code => {
      clearTimeout(t)
      reject(new Error(`bench: ${v.name} exited (${String(code)})`))
    })
  })
  return { proc: p, ticks: () => ({ ...ticks }) }
}
