/**
 * Relays made and run as an operator makes and runs them, with the CLI bundle: `sealmix keygen`,
 * `sealmix network`, `sealmix init` and `sealmix run` as processes (test/cli/keys-backup.test.ts,
 * test/cli/migrate.test.ts).
 */
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from './bundle.ts'
import { httpGet, PROJECT, waitFor } from './testnet.ts'

/** The environment of a command: this one's, without a backup passphrase unless `extra` gives one. */
export function commandEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  if (extra.SEALMIX_BACKUP_PASSPHRASE === undefined) delete env.SEALMIX_BACKUP_PASSPHRASE
  return env
}

/** One `sealmix` command to its end (stdin is not a terminal). */
export function sealmix(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...SEALMIX, ...args], {
    cwd: PROJECT,
    encoding: 'utf8',
    env: commandEnv(env),
    timeout: 60_000
  })
}

/** `sealmix ...` that must exit 0: its stdout. */
export function ok(args: string[], env: Record<string, string> = {}): string {
  const r = sealmix(args, env)
  if (r.status !== 0) throw new Error(`sealmix ${args[0]} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

export interface StaticRelay {
  /** The config `sealmix init` wrote for the layer-1 mix. */
  readonly config: string
  readonly dataDir: string
  readonly metricsPort: number
  readonly networkFile: string
  readonly signer: string
}

/**
 * A static signed network of a gateway and three mixes (`sealmix keygen` each, `sealmix network`)
 * and the config `sealmix init` writes for its layer-1 mix, in `root`. Only that mix runs; the
 * others' keys are there to make the file valid.
 */
export async function staticNetwork(root: string): Promise<StaticRelay> {
  const signer = ok(['signer-keygen', '--out', join(root, 'signer.key')]).trim()
  const port = await freePort()
  const metricsPort = await freePort()
  const dataDir = join(root, 'mix1')
  const descriptors: string[] = []
  const relays: Array<[string, string, number, string]> = [
    ['gw', 'gateway', 0, `ws://127.0.0.1:${await freePort()}`],
    ['mix1', 'mix', 1, `ws://127.0.0.1:${port}`],
    ['mix2', 'mix', 2, `ws://127.0.0.1:${await freePort()}`],
    ['mix3', 'mix', 3, `ws://127.0.0.1:${await freePort()}`]
  ]
  for (const [name, role, layer, address] of relays) {
    const d = join(root, `${name}.json`)
    writeFileSync(
      d,
      ok(['keygen', '--data-dir', join(root, name), '--role', role, '--layer', String(layer), '--address', address])
    )
    descriptors.push(d)
  }
  const networkFile = join(root, 'network.json')
  ok(['network', '--signer-key', join(root, 'signer.key'), '--out', networkFile, ...descriptors])
  const config = join(root, 'mix1.yaml')
  ok([
    'init',
    '--role',
    'mix',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--metrics',
    `127.0.0.1:${metricsPort}`,
    '--network',
    networkFile,
    '--signer',
    signer,
    '--out',
    config
  ])
  return { config, dataDir, metricsPort, networkFile, signer }
}

export interface RunningRelay {
  readonly p: ChildProcess
  /** What it wrote to stdout and stderr so far. */
  output: () => string
  /** SIGTERM, and its exit status. */
  stop: () => Promise<number | null>
  /** Its exit status once it exits by itself (a refused start). */
  exited: Promise<number | null>
}

/** `sealmix run --config FILE` as a process. */
export function runRelay(config: string): RunningRelay {
  const p = spawn(process.execPath, [...SEALMIX, 'run', '--config', config], {
    cwd: PROJECT,
    env: commandEnv(),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  p.stderr!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  return {
    p,
    output: () => out,
    exited,
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
      return await exited
    }
  }
}

/** Wait until the ops listener on `port` answers `path` with `status`; the body it answered. */
export async function waitForStatus(
  r: RunningRelay,
  port: number,
  path: string,
  status: number,
  ms = 30_000
): Promise<string> {
  let body = ''
  await waitFor(
    async () => {
      if (r.p.exitCode !== null) throw new Error(`sealmix run exited ${r.p.exitCode}: ${r.output()}`)
      const a = await httpGet(port, path).catch(() => null)
      body = a?.body ?? ''
      return a?.status === status
    },
    ms,
    `${path} ${status}`
  )
  return body
}
