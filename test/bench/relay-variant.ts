/**
 * Relay processes for the relay bench: the relay under test, and variants of it (other Node flags,
 * or another bundle, e.g. the previous commit's) started per round beside the latency floors, so
 * that a change is compared with what it replaces in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
}

/** SEALMIX_BENCH_RELAY_VARIANTS='[{"name":"semi32","flags":"--max-semi-space-size=32"}]' */
export function relayVariants(): RelayVariant[] {
  const v = process.env.SEALMIX_BENCH_RELAY_VARIANTS
  return v === undefined ? [] : (JSON.parse(v) as RelayVariant[])
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
  const proc = spawnRelay(root, join(dir, 'relay.json'), v)
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
