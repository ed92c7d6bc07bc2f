/**
 * A local network on loopback, as separate processes like a real deployment, each made with the
 * same `sealmix` commands an operator uses: three directory authorities (`sealmix init --role
 * authority`, `sealmix authority`), 2 gateways and one mix per layer (`sealmix run`) that publish
 * per-epoch mix keys to them, an ingress (`sealmix init --role ingress`, `sealmix ingress`) in
 * front of the stand-in homeserver (a fake: no Matrix homeserver runs here), and two demo clients
 * (`sealmix init --role client`, `sealmix listen --peer`) that exchange messages with acks. Every
 * node fetches each epoch's document from the authorities; `epochMs` sets how often keys rotate.
 * Prints the chat as it happens and a status line every two seconds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { loadCrypto } from '../mix/index.ts'
import { Tap, type TapFrame } from './audit/tap.ts'
import { DemoTally, relaySummary, scrape } from './devnet-status.ts'
import { ensureKeys, loadIdentity } from './keys.ts'

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'index.ts')
const LAYOUT: Array<[string, 'gateway' | 'mix', number]> = [['gateway-a', 'gateway', 0], ['gateway-b', 'gateway', 0], ['mix-1', 'mix', 1], ['mix-2', 'mix', 2], ['mix-3', 'mix', 3]]
const SERVER = 'devnet.local'

export interface DevnetOptions {
  /** Keep data here (kept on exit); default: a temporary directory, removed on exit. */
  readonly dataDir?: string
  /** Print a line (status, addresses). */
  readonly print: (line: string) => void
  /** Resolves when the devnet should stop. */
  readonly stop: Promise<void>
  /**
   * The audit's global passive observer (`sealmix audit --devnet`): recording taps in front of
   * `relay`'s listener (what enters it) and of its next layer's listeners (what leaves it).
   */
  readonly observe?: { readonly relay: string, readonly onInput: TapFrame, readonly onOutput: TapFrame }
  /** Epoch length: mix keys rotate this often. @default 60000 */
  readonly epochMs?: number
}

/** Time from writing the authorities' genesis to epoch 0: the relays start and publish meanwhile. */
const BOOT_MS = 6000
const DEVNET_MIXING = { strategy: 'batch', intervalMs: 100, minPool: 4, flushFraction: 0.7, minBatch: 2, maxDelayMs: 5000, loopRatePerSec: 2, clientRatePerSec: 5, clientLoopRatePerSec: 1 }

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

/** Run a sealmix command to completion (setup steps); its stdout, or an error with its stderr. */
function sealmix (args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`sealmix ${args[0]!} ${args[1] ?? ''} failed: ${r.stderr.trim()}`)
  return r.stdout
}

function start (args: string[], stdout: 'ignore' | 'pipe'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', stdout, 'inherit'] })
}

function lines (p: ChildProcess, f: (line: string) => void): void {
  if (p.stdout !== null) createInterface({ input: p.stdout }).on('line', f)
}

/**
 * Stop children gracefully. A Ctrl-C in a terminal reaches every process of the foreground group,
 * so children may already be stopping: give them `graceMs` before SIGTERM (which would be their
 * second signal, an immediate exit), and SIGKILL what is left 5 s later.
 */
async function stopAll (procs: ChildProcess[], graceMs: number): Promise<void> {
  await Promise.all(procs.map(async p => await new Promise<void>(resolve => {
    if (p.exitCode !== null || p.signalCode !== null) { resolve(); return }
    const term = setTimeout(() => p.kill('SIGTERM'), graceMs)
    const kill = setTimeout(() => p.kill('SIGKILL'), graceMs + 5000)
    p.once('exit', () => { clearTimeout(term); clearTimeout(kill); resolve() })
  })))
}

export async function runDevnet (o: DevnetOptions): Promise<void> {
  const c = await loadCrypto()
  const temporary = o.dataDir === undefined
  const root = o.dataDir ?? mkdtempSync(join(tmpdir(), 'sealmix-devnet-'))
  mkdirSync(root, { recursive: true })
  const epochMs = o.epochMs ?? 60_000
  // Old keys stay usable for half an epoch: long enough for the demo's SURB acks to come back.
  const graceMs = Math.floor(epochMs / 2)
  const auths: Array<{ url: string, publicKey: string, config: string }> = []
  for (let i = 1; i <= 3; i++) {
    const port = await freePort()
    const config = join(root, `authority-${i}.yaml`)
    const made = JSON.parse(sealmix(['init', '--role', 'authority', '--data-dir', join(root, `authority-${i}`), '--listen', `127.0.0.1:${port}`, '--network-name', 'devnet', '--genesis-ms', '0',
      '--epoch', String(epochMs), '--grace', String(graceMs), '--mixing', JSON.stringify(DEVNET_MIXING), '--out', config])) as { signer: string }
    auths.push({ url: `http://127.0.0.1:${port}`, publicKey: made.signer, config })
  }
  const authorityFlags = auths.flatMap(a => ['--authority', `${a.url}=${a.publicKey}`])
  const nodes: Array<{ name: string, config: string, metricsPort: number }> = []
  const relays: Array<{ id: string }> = []
  const taps: Tap[] = []
  const observedLayer = LAYOUT.find(([n]) => n === o.observe?.relay)?.[2]
  for (const [name, role, layer] of LAYOUT) {
    const dir = join(root, name)
    ensureKeys(c, dir, false)
    const port = await freePort()
    const metricsPort = await freePort()
    let address = port
    if (o.observe !== undefined && observedLayer !== undefined && (name === o.observe.relay || layer === (observedLayer + 1) % 4)) {
      // The relay publishes the tap's address; the tap forwards to the relay's real port.
      address = await freePort()
      taps.push(new Tap(address, port, name === o.observe.relay ? o.observe.onInput : o.observe.onOutput))
    }
    relays.push({ id: loadIdentity(c, dir).id })
    const config = join(root, `${name}.yaml`)
    const directory = { authorities: auths.map(a => ({ url: a.url, publicKey: a.publicKey })), address: `ws://127.0.0.1:${address}`, layer, maxSkewMs: Math.min(30_000, Math.floor(epochMs / 4)) }
    writeFileSync(config, toYaml({ version: 1, role, dataDir: dir, listen: { host: '127.0.0.1', port }, directory, metrics: { host: '127.0.0.1', port: metricsPort }, limits: { workers: 1 }, replay: { capacity: 1_000_000 }, log: { level: 'warn' } }))
    nodes.push({ name, config, metricsPort })
  }
  const [gwA, gwB] = relays as [{ id: string }, { id: string }]
  // The ingress and the stand-in homeserver, made with the operator's commands.
  const [hsPort, apiPort, ingressMetrics] = [await freePort(), await freePort(), await freePort()]
  const hsUrl = `http://127.0.0.1:${hsPort}`
  const ingressConfig = join(root, 'ingress.yaml')
  const made = JSON.parse(sealmix(['init', '--role', 'ingress', '--data-dir', join(root, 'ingress'), '--server-name', SERVER, '--homeserver', hsUrl, ...authorityFlags,
    '--out', ingressConfig, '--registration', join(root, 'registration.yaml'), '--api', `127.0.0.1:${apiPort}`, '--metrics', `127.0.0.1:${ingressMetrics}`, '--gateway', gwA.id, '--gateway', gwB.id])) as { serverRootKey: string }
  const asToken = (parseYaml(readFileSync(ingressConfig, 'utf8')) as { homeserver: { asToken: string } }).homeserver.asToken
  const users = [['alice', 'ALICEPHONE', gwA.id], ['bob', 'BOBLAPTOP', gwB.id]] as const
  const hsUsers = []
  for (const [name, device, gateway] of users) {
    const token = Buffer.alloc(24); c.randomFill(token)
    writeFileSync(join(root, `${name}.token`), token.toString('hex'), { mode: 0o600 })
    hsUsers.push({ userId: `@${name}:${SERVER}`, deviceId: device, accessToken: token.toString('hex') })
    sealmix(['init', '--role', 'client', '--user', `@${name}:${SERVER}`, '--device', device, '--token-file', join(root, `${name}.token`), '--homeserver', hsUrl, '--ingress-api', `http://127.0.0.1:${apiPort}`,
      '--gateway', gateway, ...authorityFlags, '--trust', `${SERVER}=${made.serverRootKey}`, '--out', join(root, `${name}.profile.json`), '--contact-out', join(root, `${name}.contact.json`)])
  }
  writeFileSync(join(root, 'homeserver.json'), JSON.stringify({ serverName: SERVER, asToken, users: hsUsers }), { mode: 0o600 })

  for (const t of taps) await t.start()
  o.print(`devnet: 3 directory authorities, 5 relays, an ingress, a stand-in homeserver and 2 demo clients on 127.0.0.1; epochs of ${epochMs / 1000} s; data in ${root}${temporary ? ' (temporary)' : ''}`)
  const procs: ChildProcess[] = []
  // If this process dies without the orderly stop below (an uncaught error, a closed stdout), take the children with it.
  const orphanGuard = (): void => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL') }
  process.once('exit', orphanGuard)
  // Genesis a few seconds ahead, so that every relay's first descriptor makes epoch 0's document.
  const genesisMs = Date.now() + BOOT_MS
  for (const a of auths) {
    const cfg = parseYaml(readFileSync(a.config, 'utf8')) as { epoch: { genesisMs: number }, peers: unknown[] }
    cfg.epoch.genesisMs = genesisMs
    cfg.peers = auths.filter(p => p !== a).map(p => ({ url: p.url, publicKey: p.publicKey }))
    writeFileSync(a.config, toYaml(cfg), { mode: 0o600 })
    procs.push(start(['authority', '--config', a.config], 'ignore'))
    o.print(`  authority  ${a.url}/v1/document/current`)
  }
  for (const n of nodes) {
    procs.push(start(['run', '--config', n.config], 'ignore'))
    o.print(`  ${n.name.padEnd(10)} metrics http://127.0.0.1:${n.metricsPort}/metrics`)
  }
  o.print(`  ingress    metrics http://127.0.0.1:${ingressMetrics}/metrics, client API http://127.0.0.1:${apiPort}`)
  let atHomeserver = 0
  const hs = start(['standin-homeserver', '--config', join(root, 'homeserver.json'), '--port', String(hsPort)], 'pipe')
  lines(hs, l => { if (l.startsWith('homeserver')) atHomeserver++; else o.print(`  ${l}`) })
  procs.push(hs, start(['ingress', '--config', ingressConfig], 'ignore'))
  const tally = new DemoTally()
  let stopped = false
  void o.stop.then(() => { stopped = true })
  // The clients enrol with the ingress's API at start: wait until the ingress has its gateway links.
  const ready = Date.now() + 60_000
  while (!stopped && Date.now() < ready && ((await scrape(ingressMetrics)).get('sealmix_ingress_gateway_links{state="up"}') ?? 0) < 2) await new Promise(resolve => setTimeout(resolve, 250))
  for (const [name] of users) {
    if (stopped) break
    const peer = name === 'alice' ? 'bob' : 'alice'
    const p = start(['listen', '--profile', join(root, `${name}.profile.json`), '--peer', join(root, `${peer}.contact.json`), '--every', name === 'alice' ? '2000' : '3000', '--json'], 'pipe')
    lines(p, l => {
      const e = tally.onLine(l)
      if (e?.event === 'received') o.print(`  chat: ${name} got ${JSON.stringify(e.text)} from ${String(e.from)} (certificate verified)`)
    })
    procs.push(p)
  }
  o.print('  traffic: demo messages, client drop and loop cover, relay loop cover and link padding')
  const status = setInterval(() => {
    void Promise.all([...nodes.map(async n => await scrape(n.metricsPort)), scrape(ingressMetrics)]).then(ms => {
      if (stopped) return
      const ing = ms.pop()!
      o.print(`devnet: ${relaySummary(ms)} | ingress ${ing.get('sealmix_ingress_gateway_links{state="up"}') ?? 0}/2 links, ${ing.get('sealmix_ingress_messages_total{result="delivered"}') ?? 0} delivered | homeserver got ${atHomeserver} | ${tally.summary()}`)
    })
  }, 2000)
  await o.stop
  clearInterval(status)
  o.print('devnet: stopping')
  await stopAll(procs.slice(-2), 1500)
  await stopAll(procs, 1500)
  process.off('exit', orphanGuard)
  for (const t of taps) await t.close()
  if (temporary) rmSync(root, { recursive: true, force: true })
  o.print('devnet: stopped')
}
