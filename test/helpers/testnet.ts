/**
 * An in-process network on 127.0.0.1: 2 gateways and one mix per layer, each a real Relay with its
 * own temporary data directory, LevelDB, worker threads and WebSocket listener, plus helpers to
 * act as a client or an ingress over real sockets.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { ensureKeys, type IngressKeys, initIngressKeys, loadIngressKeys, loadKeys, parseConfig, Relay, type RelayConfig, type RelayKeys } from '../../daemon/index.ts'
import { freePort } from '../../tools/index.ts'
import { encodeFrame, encodeHello, FRAME, geometryHash, NETWORK_GEOMETRY, parseFrame, relayId, signDocument, type CryptoSuite, type MixingParams, type NetworkDocument, type PathHop, type RelayDescriptor, type Rng, type Sphinx } from '../../mix/index.ts'
import { createLogger } from '../../daemon/io/log.ts'
import { captureStream, CANARIES } from './log-capture.ts'
import { FrameReader } from '../../daemon/io/frame-reader.ts'
import { dialHandshake } from '../../daemon/io/handshake.ts'
import { SEALMIX } from './bundle.ts'

export const G = NETWORK_GEOMETRY

export interface Node { name: string, role: 'gateway' | 'mix', layer: number, dir: string, keys: RelayKeys, port: number, metricsPort: number, config: RelayConfig, raw: Record<string, unknown>, configFile: string, relay: Relay | null, proc: ChildProcess | null, output: string[] }

export interface Testnet {
  nodes: Node[]
  doc: NetworkDocument
  networkFile: string
  signer: { publicKey: Uint8Array, secretKey: Uint8Array }
  ingress: { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array }, box: { publicKey: Buffer, secretKey: Buffer }, dir: string, serverRoot: Buffer, keys: IngressKeys }
  byName (n: string): Node
  /** A path hop for the named relay. */
  hop (name: string, commands: PathHop['commands']): PathHop
  /** A packet over gwA, mix1, mix2, mix3, gwB to the testnet's ingress. */
  packetToIngress (sphinx: Sphinx, payload: Buffer, rng: Rng): Buffer
  /** Every running in-process relay has all its outgoing links up (names: which to check). */
  linksUp (names?: string[]): boolean
  start (n: Node): Promise<Relay>
  /** Run the node as its own process (`sealmix run`), logging at debug; resolves when /readyz answers 200. */
  spawn (n: Node): Promise<ChildProcess>
  stop (): Promise<void>
}


export async function createTestnet (c: CryptoSuite, o: { mixing?: Partial<MixingParams>, config?: Record<string, unknown>, tls?: string[] } = {}): Promise<Testnet> {
  const root = mkdtempSync(join(tmpdir(), 'sealmix-testnet-'))
  const layout: Array<[string, 'gateway' | 'mix', number]> = [['gwA', 'gateway', 0], ['gwB', 'gateway', 0], ['mix1', 'mix', 1], ['mix2', 'mix', 2], ['mix3', 'mix', 3]]
  const signer = c.signSeedKeypair(randomBytes(c, 32))
  const networkFile = join(root, 'network.json')
  const nodes: Node[] = []
  for (const [name, role, layer] of layout) {
    const dir = join(root, name)
    ensureKeys(c, dir)
    const port = await freePort()
    const metricsPort = await freePort()
    const raw = {
      role, dataDir: dir, listen: { host: '127.0.0.1', port },
      network: { file: networkFile, signers: [Buffer.from(signer.publicKey).toString('hex')] },
      limits: { workers: 1, handshakeTimeoutMs: 2000, pingIntervalMs: 1000 },
      replay: { capacity: 100_000 },
      log: { level: 'silent' },
      ...(o.config ?? {}),
      metrics: { port: metricsPort, ...(o.config?.metrics as Record<string, unknown> | undefined) }
    }
    if (o.tls?.includes(name) === true) {
      // A throwaway self-signed certificate: relays authenticate each other by identity keys, not by the TLS chain.
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(root, `${name}.key.pem`), '-out', join(root, `${name}.cert.pem`)], { stdio: 'ignore' })
      ;(raw as Record<string, unknown>).tls = { certFile: join(root, `${name}.cert.pem`), keyFile: join(root, `${name}.key.pem`) }
    }
    const configFile = join(root, `${name}.json`)
    writeFileSync(configFile, JSON.stringify({ ...raw, log: { level: 'debug' } }))
    nodes.push({ name, role, layer, dir, keys: loadKeys(c, dir), port, metricsPort, config: parseConfig(raw, root), raw, configFile, relay: null, proc: null, output: [] })
  }
  // The ingress's keys, made as `sealmix init --role ingress` makes them, so that a real Ingress can run from ingressDir.
  const ingressDir = join(root, 'ingress')
  const { rootPublicKey } = initIngressKeys(c, ingressDir, 'example.org', Date.now())
  const ik = loadIngressKeys(c, ingressDir, 'example.org')
  const ingIdentity = ik.identity
  const boxPk = ik.box.publicKey
  const ingress = { id: ik.id, identity: ingIdentity, box: ik.box, dir: ingressDir, serverRoot: rootPublicKey!, keys: ik }
  const now = Date.now()
  const relays: RelayDescriptor[] = nodes.map(n => ({ id: n.keys.id, role: n.role, layer: n.layer, address: `${n.config.tls !== undefined ? 'wss' : 'ws'}://127.0.0.1:${n.port}`, identityKey: Buffer.from(n.keys.identity.publicKey).toString('hex'), mixKey: n.keys.mix.publicKey.toString('hex') }))
  const doc: NetworkDocument = {
    version: 1, network: 'testnet', epoch: 0, validFromMs: now - 60_000, validUntilMs: now + 24 * 3600_000,
    geometry: { hops: G.hops, userPayloadBytes: G.userPayloadBytes, hash: geometryHash(c, G).toString('hex') },
    mixing: { strategy: 'batch', intervalMs: 20, minPool: 0, flushFraction: 1, minBatch: 0, maxDelayMs: 2000, loopRatePerSec: 0, ...o.mixing },
    relays,
    ingresses: [{ id: ingress.id, serverName: 'example.org', identityKey: Buffer.from(ingIdentity.publicKey).toString('hex'), boxKey: boxPk.toString('hex'), gateways: [nodes[1]!.keys.id], binding: ik.binding }]
  }
  writeFileSync(networkFile, JSON.stringify(signDocument(c, doc, [signer])))
  for (const r of relays) { CANARIES.add(r.id); CANARIES.add(r.identityKey); CANARIES.add(r.mixKey) }
  for (const n of nodes) { CANARIES.add(n.keys.mix.secretKey.toString('hex')); CANARIES.add(n.keys.mailboxKey.toString('hex')) }
  CANARIES.add(ingress.id)
  const net: Testnet = {
    nodes, doc, networkFile, signer, ingress,
    byName: (n) => nodes.find(x => x.name === n)!,
    hop (name, commands) {
      const n = nodes.find(x => x.name === name)!
      return { id: Buffer.from(n.keys.id, 'hex'), publicKey: n.keys.mix.publicKey, commands }
    },
    packetToIngress (sphinx, payload, rng) {
      const d0: PathHop['commands'] = [{ type: 'node_delay', delayMs: 0 }]
      return sphinx.createPacket([net.hop('gwA', d0), net.hop('mix1', d0), net.hop('mix2', d0), net.hop('mix3', d0),
        net.hop('gwB', [{ type: 'node_delay', delayMs: 0 }, { type: 'recipient', id: Buffer.from(ingress.id, 'hex') }])], payload, rng)
    },
    linksUp (names = nodes.map(n => n.name)) {
      return names.every(name => { const n = nodes.find(x => x.name === name)!; return n.relay !== null && n.relay.linksUp.length === (name === 'mix3' ? 2 : 1) })
    },
    async start (n) {
      const relay = new Relay({ config: n.config, binding: 'sodium-native', minRetryMs: 100, maxRetryMs: 1000, logger: createLogger('trace', captureStream) })
      await relay.start()
      n.relay = relay
      return relay
    },
    async spawn (n) {
      const p = spawn(process.execPath, [...SEALMIX, 'run', '--config', n.configFile], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] })
      p.stdout.on('data', (d: Buffer) => n.output.push(d.toString()))
      p.stderr.on('data', (d: Buffer) => n.output.push(d.toString()))
      n.proc = p
      await waitFor(async () => (await httpGet(n.metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200, 20_000, `${n.name} ready`)
      return p
    },
    async stop () {
      await Promise.all(nodes.map(async n => {
        await n.relay?.stop(); n.relay = null
        if (n.proc !== null && n.proc.exitCode === null) { const p = n.proc; await new Promise(resolve => { p.once('exit', resolve); p.kill('SIGKILL') }) }
        n.proc = null
      }))
      rmSync(root, { recursive: true, force: true })
    }
  }
  return net
}

export const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function httpGet (port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A sample value from a Prometheus text scrape (first series matching name and labels). */
export function sample (text: string, name: string, labels = ''): number {
  const line = text.split('\n').find(l => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`))
  return line === undefined ? NaN : Number(line.split(' ').pop())
}

/** SIGKILL a spawned node and wait for it to be gone. */
export async function kill9 (n: Node): Promise<void> {
  const p = n.proc
  if (p === null || p.exitCode !== null) return
  await new Promise(resolve => { p.once('exit', resolve); p.kill('SIGKILL') })
  n.proc = null
}

export function randomBytes (c: CryptoSuite, n: number): Buffer {
  const b = Buffer.alloc(n)
  c.randomFill(b)
  return b
}

/** Wait until `f()` is true, polling; throws after `ms`. */
export async function waitFor (f: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Read one counter or gauge value from a relay's registry. */
export async function metric (r: Relay, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await r.metrics.registry.getSingleMetric(name)?.get()
  const v = m?.values.find(x => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
  return v?.value ?? 0
}

/** A raw client connection to a gateway: HELLO sent, frames collected. */
export async function clientConn (port: number, opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket, frames: Buffer[], send: (kind: number, ...parts: Buffer[]) => void, close: () => void, response: { headers: Record<string, unknown> } }> {
  const response = { headers: {} as Record<string, unknown> }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/client`, { perMessageDeflate: false, ...opts })
  ws.on('error', () => {})
  ws.on('upgrade', (res) => { response.headers = res.headers })
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(d))
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  ws.send(encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })))
  return { ws, frames, response, send: (kind, ...parts) => ws.send(encodeFrame(G, kind as 1, ...parts)), close: () => ws.close() }
}

/** An ingress link to its gateway: authenticated, acks every DELIVER unless told not to. */
export async function ingressConn (c: CryptoSuite, net: { ingress: { id: string, identity: { secretKey: Uint8Array } } }, gw: { port: number, keys: { id: string, identity: { publicKey: Uint8Array } } }, o: { ack?: boolean } = {}): Promise<{ ws: WebSocket, delivered: Buffer[], ids: number[], close: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ingress`, { perMessageDeflate: false })
  const reader = new FrameReader(ws)
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  const ok = await dialHandshake(c, G, ws, reader, { id: Buffer.from(net.ingress.id, 'hex'), secretKey: net.ingress.identity.secretKey }, 'ingress', Buffer.from(gw.keys.id, 'hex'), gw.keys.identity.publicKey, 2000)
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
