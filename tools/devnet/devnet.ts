/**
 * A local network on loopback, as separate processes like a real deployment, each made with the
 * same `sealmix` commands an operator uses: three directory authorities (`sealmix init --role
 * authority`, `sealmix authority`), 2 gateways and one mix per layer (`sealmix run`) that publish
 * per-epoch mix keys to them, an ingress (`sealmix init --role ingress`, `sealmix ingress`) in
 * front of the stand-in homeserver (a fake: no Matrix homeserver runs here), and two demo clients
 * (`sealmix init --role client`, `sealmix listen --peer`) that exchange messages with acks. Every
 * node fetches each epoch's document from the authorities; `epochMs` sets how often keys rotate.
 *
 * Start-up waits on conditions, never on guesses of how long a busy machine takes: the relays and
 * the ingress start first and poll for authorities; once each says it is waiting, the
 * authorities start with genesis a few seconds ahead, so every descriptor makes epoch 0's
 * document; the clients start once a majority-signed document lists every relay and the
 * ingress and the ingress has linked to its gateways. A node that missed a deadline is listed
 * by a later document: everything converges, the status line says what it waits for. Children
 * that exit are reported by name with their last error line.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { DirectoryClient, loadCrypto, type MixingParams, type NetworkDocument } from '../../mix/index.ts'
import { Tap, type TapFrame } from '../audit/tap.ts'
import { DevnetError, sealmixSync as sealmix, Supervisor, type Child } from './children.ts'
import { DemoTally, relaySummary, scrape } from './status.ts'
import { httpTransport } from '../../daemon/index.ts'
import { ensureKeys, loadIdentity } from '../../daemon/index.ts'

export { DevnetError }

const LAYOUT: Array<[string, 'gateway' | 'mix', number]> = [['gateway-a', 'gateway', 0], ['gateway-b', 'gateway', 0], ['mix-1', 'mix', 1], ['mix-2', 'mix', 2], ['mix-3', 'mix', 3]]
const SERVER = 'devnet.local'

export interface DevnetOptions {
  /** Keep data here (kept on exit, reusable by a later run); default: a temporary directory, removed on exit. */
  readonly dataDir?: string
  /** Print a line (addresses, chat, events). */
  readonly print: (line: string) => void
  /** The status line, every two seconds (a terminal rewrites it in place); default: `print`. */
  readonly status?: (line: string) => void
  /** Stop showing the status line (a terminal's, rewritten in place) before the last lines. */
  readonly clearStatus?: () => void
  /** Resolves when the devnet should stop: children get SIGTERM and a grace period. */
  readonly stop: Promise<void>
  /** Resolves when the stop must not wait for the grace period (a second Ctrl-C): SIGKILL what is left. */
  readonly hurry?: Promise<void>
  /**
   * The audit's global passive observer (`sealmix audit --devnet`): recording taps in front of
   * `relay`'s listener (what enters it) and of its next layer's listeners (what leaves it).
   */
  readonly observe?: { readonly relay: string, readonly onInput: TapFrame, readonly onOutput: TapFrame }
  /** Epoch length: mix keys rotate this often. @default 60000 */
  readonly epochMs?: number
}

/**
 * From starting the authorities to genesis. The relays and the ingress already run and poll every
 * 500 ms, so this covers only the authorities' own start and one poll; a node that still misses
 * epoch 0's document is listed by the next one.
 */
const GENESIS_LEAD_MS = 5000
/** How long a child gets to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000
/** The devnet's mixing: a smaller pool than the default, so the demo's light traffic is not held for long. */
export const DEVNET_MIXING: MixingParams = { strategy: 'batch', intervalMs: 100, minPool: 4, flushFraction: 0.7, minBatch: 2, maxDelayMs: 5000, loopRatePerSec: 2, clientRatePerSec: 5, clientLoopRatePerSec: 1 }

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

/** The `event` field of a JSON log or event line, if any. */
function eventOf (line: string): string | undefined {
  if (!line.startsWith('{')) return undefined
  try { const e = (JSON.parse(line) as { event?: unknown }).event; return typeof e === 'string' ? e : undefined } catch { return undefined }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Runs the devnet until `o.stop`. Throws DevnetError when it cannot start (after stopping what it started). */
export async function runDevnet (o: DevnetOptions): Promise<void> {
  const c = await loadCrypto()
  const temporary = o.dataDir === undefined
  // Absolute: the children resolve paths in their configs against the config file's folder.
  const root = o.dataDir !== undefined ? resolve(o.dataDir) : mkdtempSync(join(tmpdir(), 'sealmix-devnet-'))
  const status = o.status ?? o.print
  let stopped = false
  let failure: string | null = null
  void o.stop.then(() => { stopped = true })
  const sup = new Supervisor({
    onExit: (child, how) => {
      o.print(`devnet: ${child.name} stopped unexpectedly (${how})${child.lastError !== null ? `: ${child.lastError}` : ''}`)
      if (phase !== 'running') failure ??= `${child.name} exited while the devnet was starting (${how})${child.lastError !== null ? `: ${child.lastError}` : ''}`
    }
  })
  let phase = 'setting up'
  const taps: Tap[] = []
  // Whatever ends this process without the orderly stop below (an uncaught error), take the children with it.
  const orphanGuard = (): void => { sup.killAll() }
  process.once('exit', orphanGuard)
  let statusTimer: NodeJS.Timeout | undefined
  try {
    mkdirSync(root, { recursive: true })
    await boot()
  } finally {
    stopped = true
    clearInterval(statusTimer)
    o.clearStatus?.()
    o.print('devnet: stopping')
    // Clients first (they would only retry against stopping relays), then the rest together.
    const clients = sup.children.filter(ch => ch.name === 'alice' || ch.name === 'bob')
    const hurry = (o.hurry ?? new Promise<never>(() => {})).then(() => sup.killAll())
    await sup.stop(clients, STOP_GRACE_MS)
    await sup.stop(sup.children, STOP_GRACE_MS)
    void hurry
    process.off('exit', orphanGuard)
    for (const t of taps) await t.close()
    if (temporary) rmSync(root, { recursive: true, force: true })
    o.print(failure === null ? 'devnet: stopped' : 'devnet: stopped (it could not start)')
  }
  if (failure !== null) throw new DevnetError(failure)

  /** Wait until `ready()` or until stopped or failed; false unless ready. */
  async function until (what: string, ready: () => Promise<boolean> | boolean): Promise<boolean> {
    phase = what
    for (;;) {
      if (stopped || failure !== null) return false
      if (await ready()) return true
      await sleep(250)
    }
  }

  async function boot (): Promise<void> {
    const epochMs = o.epochMs ?? 60_000
    // Every run is a new network with its own genesis, so a reused --data-dir keeps identities and
    // stores but not what belongs to the previous schedule: the authorities' held descriptors
    // (they would compete with this run's for the same epochs) and the relays' per-epoch mix keys.
    for (let i = 1; i <= 3; i++) for (const f of ['descriptors.json', 'admitted.yaml']) rmSync(join(root, `authority-${i}`, f), { force: true })
    for (const [name] of LAYOUT) {
      const keys = join(root, name, 'keys')
      if (existsSync(keys)) for (const f of readdirSync(keys)) if (/^mix-\d+\.key$/.test(f)) rmSync(join(keys, f))
    }
    // Old keys stay usable for half an epoch: long enough for the demo's SURB acks to come back.
    const graceMs = Math.floor(epochMs / 2)
    const auths: Array<{ name: string, url: string, publicKey: string, config: string }> = []
    for (const i of [1, 2, 3]) {
      const port = await freePort()
      const config = join(root, `authority-${i}.yaml`)
      const made = JSON.parse(sealmix(['init', '--role', 'authority', '--data-dir', join(root, `authority-${i}`), '--listen', `127.0.0.1:${port}`, '--network-name', 'devnet', '--genesis-ms', '0',
        '--epoch', `${epochMs}ms`, '--grace', `${graceMs}ms`, '--mixing', JSON.stringify(DEVNET_MIXING), '--out', config])) as { signer: string }
      auths.push({ name: `authority-${i}`, url: `http://127.0.0.1:${port}`, publicKey: made.signer, config })
    }
    const authorityFlags = auths.flatMap(a => ['--authority', `${a.url}=${a.publicKey}`])
    const nodes: Array<{ name: string, id: string, config: string, metricsPort: number }> = []
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
      const config = join(root, `${name}.yaml`)
      const directory = { authorities: auths.map(a => ({ url: a.url, publicKey: a.publicKey })), address: `ws://127.0.0.1:${address}`, layer, maxSkewMs: Math.min(30_000, Math.floor(epochMs / 4)) }
      writeFileSync(config, toYaml({ version: 1, role, dataDir: dir, listen: { host: '127.0.0.1', port }, directory, metrics: { host: '127.0.0.1', port: metricsPort }, limits: { workers: 1 }, replay: { capacity: 1_000_000 }, log: { level: 'warn' } }))
      nodes.push({ name, id: loadIdentity(c, dir).id, config, metricsPort })
    }
    const [gwA, gwB] = [nodes[0]!, nodes[1]!]
    // The ingress and the stand-in homeserver, made with the operator's commands.
    const [hsPort, apiPort, ingressMetrics] = [await freePort(), await freePort(), await freePort()]
    const hsUrl = `http://127.0.0.1:${hsPort}`
    const ingressConfig = join(root, 'ingress.yaml')
    const made = JSON.parse(sealmix(['init', '--role', 'ingress', '--data-dir', join(root, 'ingress'), '--server-name', SERVER, '--homeserver', hsUrl, ...authorityFlags,
      '--out', ingressConfig, '--registration', join(root, 'registration.yaml'), '--api', `127.0.0.1:${apiPort}`, '--metrics', `127.0.0.1:${ingressMetrics}`, '--gateway', gwA.id, '--gateway', gwB.id])) as { ingress: { id: string }, serverRootKey: string | null }
    if (made.serverRootKey === null) throw new DevnetError(`the ingress in ${root} has no server root key (keys/server-root.key): use a new --data-dir`)
    // Each authority's operator admits the five relays (each with its role and layer) and the
    // devnet's server with its root key, which binds its ingress.
    const admitted = LAYOUT.map(([name, role, layer]) => `${role}:${layer}:${Buffer.from(loadIdentity(c, join(root, name)).identity.publicKey).toString('hex')}`)
    for (const a of auths) sealmix(['authority', 'admit', '--config', a.config, ...admitted.flatMap(r => ['--relay', r]), '--server', `${SERVER}=${made.serverRootKey}`])
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
    writeFileSync(join(root, 'homeserver.json'), JSON.stringify({ serverName: SERVER, asToken, users: hsUsers, registration: join(root, 'registration.yaml') }), { mode: 0o600 })

    for (const t of taps) await t.start()
    o.print(`devnet: 3 directory authorities, 5 relays, an ingress, a stand-in homeserver and 2 demo clients on 127.0.0.1; epochs of ${epochMs / 1000} s; data in ${root}${temporary ? ' (temporary)' : ''}`)
    for (const a of auths) o.print(`  ${a.name.padEnd(11)} ${a.url}/v1/document/current`)
    for (const n of nodes) o.print(`  ${n.name.padEnd(11)} metrics http://127.0.0.1:${n.metricsPort}/metrics`)
    o.print(`  ingress     metrics http://127.0.0.1:${ingressMetrics}/metrics, client API http://127.0.0.1:${apiPort}`)

    let atHomeserver = 0
    sup.start('homeserver', ['standin-homeserver', '--config', join(root, 'homeserver.json'), '--port', String(hsPort)], l => { if (l.startsWith('homeserver')) atHomeserver++ })
    // Relays and the ingress first: each polls for the authorities and says so once it runs.
    const polling = new Set<string>()
    const onLog = (name: string) => (l: string): void => { if (eventOf(l) === 'directory_wait') polling.add(name) }
    for (const n of nodes) sup.start(n.name, ['run', '--config', n.config], onLog(n.name))
    sup.start('ingress', ['ingress', '--config', ingressConfig], onLog('ingress'))
    const tally = new DemoTally()
    let listed = '-'
    statusTimer = setInterval(() => {
      void Promise.all([...nodes.map(async n => await scrape(n.metricsPort)), scrape(ingressMetrics)]).then(ms => {
        if (stopped) return
        const ing = ms.pop()!
        const down = sup.down
        const state = phase === 'running' ? '' : ` | starting: ${phase}`
        status(`devnet: ${relaySummary(ms)} | ingress ${ing.get('sealmix_ingress_gateway_links{state="up"}') ?? 0}/2 links, ${ing.get('sealmix_ingress_messages_total{result="delivered"}') ?? 0} delivered | homeserver got ${atHomeserver} | ${tally.summary()}${state}${down.length > 0 ? ` | DOWN: ${down.join(', ')}` : ''}`)
      })
    }, 2000)
    if (!await until(`relays and ingress starting (${polling.size}/6 polling)`, () => { phase = `relays and ingress starting (${polling.size}/6 polling)`; return polling.size === 6 })) return

    // Genesis a few seconds ahead: every relay's first descriptor makes epoch 0's document.
    const genesisMs = Date.now() + GENESIS_LEAD_MS
    for (const a of auths) {
      const cfg = parseYaml(readFileSync(a.config, 'utf8')) as { epoch: { genesisMs: number }, peers: unknown[] }
      cfg.epoch.genesisMs = genesisMs
      cfg.peers = auths.filter(p => p !== a).map(p => ({ url: p.url, publicKey: p.publicKey }))
      writeFileSync(a.config, toYaml(cfg), { mode: 0o600 })
      sup.start(a.name, ['authority', '--config', a.config])
    }
    // What the clients will see: a document signed by a majority, checked as every node checks it.
    const dir = new DirectoryClient({ crypto: c, authorities: auths.map(a => ({ url: a.url, publicKey: a.publicKey })), transport: httpTransport(), now: Date.now })
    let missedEpoch = -1
    const complete = async (): Promise<boolean> => {
      const doc: NetworkDocument | null = await dir.refresh().catch(() => null)
      if (doc === null) { phase = 'waiting for the first network document'; return false }
      const relays = nodes.filter(n => doc.relays.some(r => r.id === n.id)).length
      const ingress = doc.ingresses.some(i => i.id === made.ingress.id && i.gateways.length > 0)
      listed = `${relays}/5 relays${ingress ? ' and the ingress' : ', no ingress'}`
      phase = `epoch ${doc.epoch}'s document lists ${listed}; waiting for one that lists all`
      if (relays === 5 && ingress) return true
      if (doc.epoch !== missedEpoch) {
        missedEpoch = doc.epoch
        o.print(`devnet: epoch ${doc.epoch}'s document lists ${listed}: the nodes missing from it are listed from a later epoch on (epochs of ${epochMs / 1000} s)`)
      }
      return false
    }
    if (!await until('waiting for the first network document', complete)) return
    // 6 relay links, each counted at both ends, and the ingress's 2 links to its gateways.
    const linked = async (): Promise<boolean> => {
      const ms = await Promise.all(nodes.map(async n => await scrape(n.metricsPort)))
      const peers = ms.reduce((sum, m) => sum + (m.get('sealmix_connections{link="peer"}') ?? 0), 0)
      return peers >= 12 && ((await scrape(ingressMetrics)).get('sealmix_ingress_gateway_links{state="up"}') ?? 0) >= 2
    }
    if (!await until('the relays and the ingress linking', linked)) return

    for (const [name] of users) {
      const peer = name === 'alice' ? 'bob' : 'alice'
      sup.start(name, ['listen', '--profile', join(root, `${name}.profile.json`), '--peer', join(root, `${peer}.contact.json`), '--every', name === 'alice' ? '2s' : '3s', '--json'], l => {
        const e = tally.onLine(l)
        if (e?.event === 'received') o.print(`  chat: ${name} got ${JSON.stringify(e.text)} from ${String(e.from)} (certificate verified)`)
        else if (e?.event === 'waiting' || e?.event === 'failed' || e?.event === 'send_error') o.print(`  ${name}: ${l}`)
      })
    }
    phase = 'running'
    o.print('devnet: every relay and the ingress are listed and linked; the demo clients start (traffic: demo messages, client drop and loop cover, relay loop cover and link padding)')
    await o.stop
  }
}
