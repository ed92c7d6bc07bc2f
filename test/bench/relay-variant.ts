/**
 * Relay processes for the relay bench: the relay under test, and variants of it (other Node flags,
 * or another bundle, e.g. the previous commit's) started per round beside the latency floors, so
 * that a change is compared with what it replaces in the same run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../tools/index.ts'

export interface RelayVariant {
  readonly name: string
  /** Node flags before the bundle, e.g. "--max-semi-space-size=32". */
  readonly flags?: string
  /** The bundle to run. @default dist/sealmix.mjs */
  readonly bundle?: string
  /** A commit (any git revision) whose bundle to run, built by revisionBundle(); instead of `bundle`. */
  readonly rev?: string
  /** Also search this variant's sustained rate in each run (as long again as the relay's search). */
  readonly sustained?: boolean
}

/**
 * SEALMIX_BENCH_RELAY_VARIANTS='[{"name":"semi32","flags":"--max-semi-space-size=32"}]', or the
 * committed HEAD against the working tree: '[{"name":"head","rev":"HEAD","sustained":true}]'.
 */
export function relayVariants(): RelayVariant[] {
  const v = process.env.SEALMIX_BENCH_RELAY_VARIANTS
  return v === undefined ? [] : (JSON.parse(v) as RelayVariant[])
}

/**
 * The relay bundle of a commit: its tree from `git archive` (the checkout is left alone) in a
 * folder of its own under the temporary directory, with this checkout's node_modules linked in,
 * built by its own tools/build/node.ts. Kept by commit, so that later runs reuse it.
 */
export function revisionBundle(root: string, rev: string): string {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim()
  const commit = git('rev-parse', '--short', `${rev}^{commit}`)
  const dir = join(tmpdir(), `sealmix-bench-rev-${commit}`)
  const bundle = join(dir, 'dist', 'sealmix.mjs')
  if (existsSync(bundle)) return bundle
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const tree = execFileSync('git', ['archive', commit], { cwd: root, maxBuffer: 1 << 30 })
  execFileSync('tar', ['-x', '-C', dir], { input: tree })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  execFileSync(process.execPath, ['--import', 'tsx', 'tools/build/node.ts'], {
    cwd: dir,
    env: { ...process.env, SEALMIX_COMMIT: commit },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  console.log(`  built ${rev} (${commit}) into ${bundle}`)
  return bundle
}

export function spawnRelay(
  root: string,
  config: string,
  o: { flags?: string; bundle?: string; cpus?: string; stdout?: number | 'ignore' }
): ChildProcess {
  const args = [
    ...(o.flags ?? '').split(' ').filter(x => x !== ''),
    o.bundle ?? process.env.SEALMIX_BENCH_BUNDLE ?? 'dist/sealmix.mjs',
    'run',
    '--config',
    config
  ]
  const p = spawn(
    o.cpus === undefined ? process.execPath : 'taskset',
    o.cpus === undefined ? args : ['-c', o.cpus, process.execPath, ...args],
    { cwd: root, stdio: ['ignore', o.stdout ?? 'ignore', 'pipe'] }
  )
  p.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
  return p
}

/** A copy of the bench relay (same keys, fresh database, own ports), run as `v`. */
export async function startVariant(
  root: string,
  config: string,
  v: RelayVariant & { cpus?: string; stdout?: number | 'ignore' }
): Promise<{ proc: ChildProcess; port: number; metricsPort: number }> {
  const cfg = JSON.parse(readFileSync(config, 'utf8')) as {
    dataDir: string
    listen: { port: number }
    metrics: { port: number }
  }
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-variant-'))
  cpSync(cfg.dataDir, join(dir, 'relay'), { recursive: true, filter: src => !src.includes('/db') })
  const [port, metricsPort] = [await freePort(), await freePort()]
  writeFileSync(
    join(dir, 'relay.json'),
    JSON.stringify({
      ...cfg,
      dataDir: join(dir, 'relay'),
      listen: { ...cfg.listen, port },
      metrics: { ...cfg.metrics, port: metricsPort }
    })
  )
  const proc = spawnRelay(root, join(dir, 'relay.json'), {
    ...v,
    bundle: v.rev === undefined ? v.bundle : revisionBundle(root, v.rev)
  })
  proc.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  await waitReady(metricsPort)
  return { proc, port, metricsPort }
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
export async function stopProcess(p: ChildProcess, graceMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>(resolve => p.once('exit', () => resolve()))
  p.kill('SIGTERM')
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(t)
}

export async function waitReady(port: number): Promise<void> {
  const end = Date.now() + 30_000
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      request({ host: '127.0.0.1', port, path: '/readyz' }, r => {
        r.resume()
        resolve(r.statusCode === 200)
      })
        .on('error', () => resolve(false))
        .end()
    })
    if (ok) return
    if (Date.now() > end) throw new Error('bench: relay did not become ready')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
