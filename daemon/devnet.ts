/**
 * A local network on loopback, as separate processes like a real deployment: 2 gateways and one
 * mix per layer, each a `sealmix run` with its own data directory, keys and LevelDB, sharing one
 * signed network file. Until clients and the ingress arrive (the clients issue), the traffic is the
 * relays' own loop cover and link padding. Prints one status line a second from their metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify as toYaml } from 'yaml'
import { loadCrypto, type RelayDescriptor } from '../mix/index.ts'
import { ensureKeys, loadKeys, publicKeys } from './keys.ts'
import { buildNetworkDocument, loadSignerKey, writeNetworkFile } from './network-file.ts'

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'index.ts')
const LAYOUT: Array<[string, 'gateway' | 'mix', number]> = [['gateway-a', 'gateway', 0], ['gateway-b', 'gateway', 0], ['mix-1', 'mix', 1], ['mix-2', 'mix', 2], ['mix-3', 'mix', 3]]

export interface DevnetOptions {
  /** Keep data here (kept on exit); default: a temporary directory, removed on exit. */
  readonly dataDir?: string
  /** Print a line (status, addresses). */
  readonly print: (line: string) => void
  /** Resolves when the devnet should stop. */
  readonly stop: Promise<void>
}

const handedOut = new Set<number>()

/**
 * A free TCP port on 127.0.0.1 for a listener started a little later. Chosen below Linux's
 * ephemeral range (32768 and up), so an outgoing connection made meanwhile cannot be given the
 * same port as its local end; checked by binding it; never handed out twice by one process.
 */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    if (handedOut.has(port)) continue
    const free = await new Promise<boolean>(resolve => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) { handedOut.add(port); return port }
  }
}

function scrape (port: number): Promise<Map<string, number>> {
  return new Promise(resolve => {
    request({ host: '127.0.0.1', port, path: '/metrics', timeout: 800 }, res => {
      let b = ''
      res.on('data', (d: Buffer) => { b += d.toString() })
      res.on('end', () => {
        const m = new Map<string, number>()
        for (const l of b.split('\n')) if (l !== '' && !l.startsWith('#')) { const i = l.lastIndexOf(' '); m.set(l.slice(0, i), Number(l.slice(i + 1))) }
        resolve(m)
      })
    }).on('error', () => resolve(new Map())).on('timeout', function (this: { destroy: () => void }) { this.destroy() }).end()
  })
}

export async function runDevnet (o: DevnetOptions): Promise<void> {
  const c = await loadCrypto()
  const temporary = o.dataDir === undefined
  const root = o.dataDir ?? mkdtempSync(join(tmpdir(), 'sealmix-devnet-'))
  mkdirSync(root, { recursive: true })
  const signer = loadSignerKey(c, join(root, 'network-signer.key'), true)
  const nodes: Array<{ name: string, config: string, metricsPort: number, proc?: ChildProcess }> = []
  const relays: RelayDescriptor[] = []
  for (const [name, role, layer] of LAYOUT) {
    const dir = join(root, name)
    ensureKeys(c, dir)
    const port = await freePort()
    const metricsPort = await freePort()
    relays.push({ ...publicKeys(loadKeys(c, dir)), role, layer, address: `ws://127.0.0.1:${port}` })
    const config = join(root, `${name}.yaml`)
    writeFileSync(config, toYaml({ version: 1, role, dataDir: dir, listen: { host: '127.0.0.1', port }, network: { file: join(root, 'network.json'), signers: [Buffer.from(signer.publicKey).toString('hex')] }, metrics: { host: '127.0.0.1', port: metricsPort }, limits: { workers: 1 }, replay: { capacity: 1_000_000 }, log: { level: 'warn' } }))
    nodes.push({ name, config, metricsPort })
  }
  const doc = buildNetworkDocument(c, { network: 'devnet', relays, nowMs: Date.now(), mixing: { strategy: 'batch', intervalMs: 100, minPool: 4, flushFraction: 0.7, minBatch: 2, maxDelayMs: 5000, loopRatePerSec: 2 } })
  writeNetworkFile(c, join(root, 'network.json'), doc, [signer])
  o.print(`devnet: ${nodes.length} relays on 127.0.0.1, data in ${root}${temporary ? ' (temporary)' : ''}`)
  for (const n of nodes) {
    n.proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', '--config', n.config], { stdio: ['ignore', 'ignore', 'inherit'] })
    o.print(`  ${n.name.padEnd(10)} metrics http://127.0.0.1:${n.metricsPort}/metrics`)
  }
  o.print('  traffic: loop cover (2 per second per relay) and link padding; clients and the ingress come with the clients issue')
  let stopped = false
  const status = setInterval(() => {
    void Promise.all(nodes.map(async n => await scrape(n.metricsPort))).then(ms => {
      if (stopped) return
      const up = ms.filter(m => m.size > 0).length
      const sum = (k: string): number => ms.reduce((s, m) => s + (m.get(k) ?? 0), 0)
      const sent = sum('sealmix_loops_sent_total')
      const back = sum('sealmix_loops_returned_total')
      const fwd = sum('sealmix_packets_sent_total{link="peer"}')
      const cover = sum('sealmix_cover_sent_total{kind="link"}')
      const drops = ms.reduce((s, m) => s + [...m].filter(([k]) => k.startsWith('sealmix_packets_dropped_total')).reduce((a, [, v]) => a + v, 0), 0)
      // 6 relay links (2 gateways -> mix-1 -> mix-2 -> mix-3 -> 2 gateways), each counted at both ends.
      const links = sum('sealmix_connections{link="peer"}') / 2
      o.print(`devnet: ${up}/${nodes.length} relays up, ${links}/6 links | loops ${back}/${sent} returned | ${fwd} packets forwarded (${cover} padding) | ${drops} dropped`)
    })
  }, 1000)
  await o.stop
  stopped = true
  clearInterval(status)
  o.print('devnet: stopping')
  await Promise.all(nodes.map(async n => await new Promise<void>(resolve => {
    const p = n.proc
    if (p === undefined || p.exitCode !== null) { resolve(); return }
    const t = setTimeout(() => p.kill('SIGKILL'), 5000)
    p.once('exit', () => { clearTimeout(t); resolve() })
    p.kill('SIGTERM')
  })))
  if (temporary) rmSync(root, { recursive: true, force: true })
  o.print('devnet: stopped')
}
