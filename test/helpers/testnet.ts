/**
 * The tests' network on 127.0.0.1, laid out by the launcher (tools/network/launch.ts) with a
 * static signed network file: 2 gateways and one mix per layer, each a real Relay with its own
 * temporary data directory, LevelDB, worker threads and WebSocket listener (or a `sealmix run`
 * process), plus helpers to act as a client or an ingress over real sockets.
 */
import { type ChildProcess, execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import {
  type IngressKeys,
  ingressDescriptor,
  initIngressKeys,
  loadIngressKeys,
  type Relay,
  type RelayKeys,
  type RelayOptions
} from '../../daemon/index.ts'
import { FrameReader } from '../../daemon/io/frame-reader.ts'
import { dialHandshake } from '../../daemon/io/handshake.ts'
import { createLogger } from '../../daemon/io/log.ts'
import {
  type CryptoSuite,
  encodeFrame,
  encodeHello,
  FRAME,
  type MixingParams,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  type PathHop,
  parseFrame,
  type Rng,
  type Sphinx
} from '../../mix/index.ts'
import { EXIT, type LaunchedRelay, launchNetwork, ROUTE, TESTNET_MIXING } from '../../tools/index.ts'
import { CANARIES, captureStream } from './log-capture.ts'

export const G = NETWORK_GEOMETRY

export type Node = LaunchedRelay<RelayKeys>

export interface Testnet {
  nodes: Node[]
  doc: NetworkDocument
  networkFile: string
  signer: { publicKey: Uint8Array; secretKey: Uint8Array }
  ingress: TestIngress
  byName(n: string): Node
  /** A path hop for the named relay. */
  hop(name: string, commands: PathHop['commands']): PathHop
  /** A packet over gwA, mix1, mix2, mix3, gwB to the testnet's ingress. */
  packetToIngress(sphinx: Sphinx, payload: Buffer, rng: Rng): Buffer
  /** Every running in-process relay has all its outgoing links up (names: which to check). */
  linksUp(names?: string[]): boolean
  start(n: Node): Promise<Relay>
  /** Run the node as its own process (`sealmix run`), logging at debug; resolves when /readyz answers 200. */
  spawn(n: Node): Promise<ChildProcess>
  stop(): Promise<void>
}

/** What the tests' relays share: small limits, quick pings, a replay filter of 100,000. */
export const TEST_RELAY_CONFIG = {
  limits: { workers: 1, handshakeTimeoutMs: 2000, pingIntervalMs: 1000 },
  replay: { capacity: 100_000 }
}

/** How a test runs a relay in process: sodium-native, quick re-dials, logging at trace into the canary-checked capture. */
export const inProcessRelay = (): Omit<RelayOptions, 'config'> => ({
  binding: 'sodium-native',
  minRetryMs: 100,
  maxRetryMs: 1000,
  logger: createLogger('trace', captureStream)
})

export interface TestIngress {
  id: string
  identity: { publicKey: Uint8Array; secretKey: Uint8Array }
  box: { publicKey: Buffer; secretKey: Buffer }
  dir: string
  serverRoot: Buffer
  keys: IngressKeys
}

/** The keys of an ingress of example.org, made as `sealmix init --role ingress` makes them, so that a real Ingress can run from `dir`. */
export function testIngress(c: CryptoSuite, dir: string): TestIngress {
  const { rootPublicKey } = initIngressKeys(c, dir, 'example.org', Date.now())
  const keys = loadIngressKeys(c, dir, 'example.org')
  return { id: keys.id, identity: keys.identity, box: keys.box, dir, serverRoot: rootPublicKey!, keys }
}

/** A packet along the layout's route (entry gateway, mix layers 1 to 3, exit gateway) to `recipient`, with the mix keys `doc` lists. */
export function routePacket(
  doc: NetworkDocument,
  byName: (n: string) => { keys: { id: string } },
  recipient: string,
  sphinx: Sphinx,
  payload: Buffer,
  rng: Rng
): Buffer {
  const path = ROUTE.map((spec, i): PathHop => {
    const id = byName(spec.short).keys.id
    const r = doc.relays.find(x => x.id === id)
    if (r === undefined) throw new Error(`${spec.short} is not in the document of epoch ${doc.epoch}`)
    const last = i === ROUTE.length - 1
    return {
      id: Buffer.from(r.id, 'hex'),
      publicKey: Buffer.from(r.mixKey, 'hex'),
      commands: last
        ? [
            { type: 'node_delay', delayMs: 0 },
            { type: 'recipient', id: Buffer.from(recipient, 'hex') }
          ]
        : [{ type: 'node_delay', delayMs: 0 }]
    }
  })
  return sphinx.createPacket(path, payload, rng)
}

/**
 * A throwaway self-signed certificate (subject CN=`cn`): relays authenticate each other by identity
 * keys, not by the TLS chain.
 */
export function selfSigned(root: string, name: string, cn = 'localhost'): { certFile: string; keyFile: string } {
  const [certFile, keyFile] = [join(root, `${name}.cert.pem`), join(root, `${name}.key.pem`)]
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile
    ],
    { stdio: 'ignore' }
  )
  return { certFile, keyFile }
}

/**
 * Write the config of an ingress process on the testnet's ingress data directory to `file`: the
 * testnet's network file, a homeserver nobody answers, the given API and metrics ports.
 */
export function writeIngressConfig(net: Testnet, file: string, ports: { api: number; metrics: number }): void {
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: net.ingress.dir,
      serverName: 'example.org',
      network: { file: net.networkFile, signers: [Buffer.from(net.signer.publicKey).toString('hex')] },
      homeserver: {
        url: 'http://127.0.0.1:1',
        asToken: 'as-token-0123456789abcdef',
        hsToken: 'hs-token-0123456789abcdef'
      },
      api: { port: ports.api },
      metrics: { port: ports.metrics },
      log: { level: 'info' }
    })
  )
}

export async function createTestnet(
  c: CryptoSuite,
  o: { mixing?: Partial<MixingParams>; config?: Record<string, unknown>; tls?: string[] } = {}
): Promise<Testnet> {
  const net = await launchNetwork(c, {
    mode: { kind: 'static', network: 'testnet', mixing: { ...TESTNET_MIXING, ...o.mixing }, validForMs: 24 * 3600_000 },
    naming: 'short',
    format: 'json',
    logLevel: 'debug',
    config: { ...TEST_RELAY_CONFIG, ...o.config },
    inProcess: inProcessRelay,
    configOf: (name, root) => (o.tls?.includes(name) === true ? { tls: selfSigned(root, name) } : {})
  })
  const ingress = testIngress(c, join(net.root, 'ingress'))
  const doc = net.signNetwork({ ingresses: [ingressDescriptor(ingress.keys, [net.byName(EXIT.short).keys.id])] })
  for (const r of doc.relays) {
    CANARIES.add(r.id)
    CANARIES.add(r.identityKey)
    CANARIES.add(r.mixKey)
  }
  for (const n of net.relays) {
    CANARIES.add(n.keys.mix.secretKey.toString('hex'))
    CANARIES.add(n.keys.mailboxKey.toString('hex'))
  }
  CANARIES.add(ingress.id)
  return {
    nodes: net.relays,
    doc,
    networkFile: net.networkFile,
    signer: net.signer!,
    ingress,
    byName: net.byName,
    hop(name, commands) {
      const n = net.byName(name)
      return { id: Buffer.from(n.keys.id, 'hex'), publicKey: n.keys.mix.publicKey, commands }
    },
    packetToIngress: (sphinx, payload, rng) => routePacket(doc, net.byName, ingress.id, sphinx, payload, rng),
    linksUp: net.linksUp,
    async start(n) {
      await net.start(n, 'in-process')
      return n.relay!
    },
    async spawn(n) {
      await net.start(n, 'process', { keepOutput: true })
      await net.untilUp(n, 20_000)
      return n.proc!
    },
    async stop() {
      await net.stop()
    }
  }
}

export const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, res => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A sample value from a Prometheus text scrape (first series matching name and labels). */
export function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find(l => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`))
  return line === undefined ? NaN : Number(line.split(' ').pop())
}

/** SIGKILL a spawned node and wait for it to be gone. */
export async function kill9(n: Node): Promise<void> {
  const p = n.proc
  if (p === null || p.exitCode !== null) return
  await new Promise(resolve => {
    p.once('exit', resolve)
    p.kill('SIGKILL')
  })
  n.proc = null
}

export function randomBytes(c: CryptoSuite, n: number): Buffer {
  const b = Buffer.alloc(n)
  c.randomFill(b)
  return b
}

/** Wait until `f()` is true, polling; throws after `ms`. */
export async function waitFor(f: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Read one counter or gauge value from a relay's registry. */
export async function metric(r: Relay, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await r.metrics.registry.getSingleMetric(name)?.get()
  const v = m?.values.find(x => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
  return v?.value ?? 0
}

/** Every relay's non-zero drop counters, "gwA link_down=3, ...": what a failed delivery wait says. */
export async function dropsOf(net: { nodes: ReadonlyArray<{ name: string; relay: Relay | null }> }): Promise<string> {
  const out: string[] = []
  for (const n of net.nodes) {
    const m = await n.relay?.metrics.registry.getSingleMetric('sealmix_packets_dropped_total')?.get()
    for (const v of m?.values ?? [])
      if (v.value > 0) out.push(`${n.name} ${Object.values(v.labels).join('/')}=${v.value}`)
  }
  return out.length === 0 ? 'no drops counted' : out.join(', ')
}

/** A raw client connection to a gateway: HELLO sent, frames collected. */
export async function clientConn(
  port: number,
  opts: WebSocket.ClientOptions = {}
): Promise<{
  ws: WebSocket
  frames: Buffer[]
  send: (kind: number, ...parts: Buffer[]) => void
  close: () => void
  response: { headers: Record<string, unknown> }
}> {
  const response = { headers: {} as Record<string, unknown> }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/client`, { perMessageDeflate: false, ...opts })
  ws.on('error', () => {})
  ws.on('upgrade', res => {
    response.headers = res.headers
  })
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(d))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send(encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })))
  return {
    ws,
    frames,
    response,
    send: (kind, ...parts) => ws.send(encodeFrame(G, kind as 1, ...parts)),
    close: () => ws.close()
  }
}

/** An ingress link to its gateway: authenticated, acks every DELIVER unless told not to. */
export async function ingressConn(
  c: CryptoSuite,
  net: { ingress: { id: string; identity: { secretKey: Uint8Array } } },
  gw: { port: number; keys: { id: string; identity: { publicKey: Uint8Array } } },
  o: { ack?: boolean } = {}
): Promise<{ ws: WebSocket; delivered: Buffer[]; ids: number[]; close: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ingress`, { perMessageDeflate: false })
  const reader = new FrameReader(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const ok = await dialHandshake(
    c,
    G,
    ws,
    reader,
    { id: Buffer.from(net.ingress.id, 'hex'), secretKey: net.ingress.identity.secretKey },
    'ingress',
    Buffer.from(gw.keys.id, 'hex'),
    gw.keys.identity.publicKey,
    2000
  )
  if (!ok) throw new Error('ingress handshake failed')
  const delivered: Buffer[] = []
  const ids: number[] = []
  reader.setHandler(m => {
    const f = parseFrame(G, m.data)
    if (f?.kind !== FRAME.DELIVER) return
    ids.push(Number(f.body.readBigUInt64BE(0)))
    delivered.push(Buffer.from(f.body.subarray(8, 8 + G.userPayloadBytes)))
    if (o.ack !== false) ws.send(encodeFrame(G, FRAME.ACK, f.body.subarray(0, 8)))
  })
  return { ws, delivered, ids, close: () => ws.close() }
}
