/**
 * A network that follows directory authorities, on 127.0.0.1 with epochs of seconds: three
 * in-process Authority servers and 2 gateways plus one mix per layer in directory mode (each a
 * real Relay with its own data directory, LevelDB, workers and listener, or a `sealmix run`
 * process), and an ingress listed by its own signed descriptor. Genesis is a few seconds ahead
 * so that every relay's first descriptor makes epoch 0's document.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { directoryClient } from '../../client/directory.ts'
import { Authority, ensureKeys, ingressDescriptor as ingressEntry, type IngressKeys, initIngressKeys, loadIdentity, loadIngressKeys, parseConfig, Relay, type RelayConfig, type RelayIdentity } from '../../daemon/index.ts'
import { freePort } from '../../tools/index.ts'
import { createLogger } from '../../daemon/io/log.ts'
import { NETWORK_GEOMETRY, signIngressDescriptor, type CryptoSuite, type DirectoryClient, type MixingParams, type NetworkDocument, type PathHop, type Rng, type Sphinx } from '../../mix/index.ts'
import { captureStream } from './log-capture.ts'
import { httpGet, PROJECT, waitFor } from './testnet.ts'
import { SEALMIX } from './bundle.ts'

export interface EpochNode { name: string, role: 'gateway' | 'mix', layer: number, dir: string, keys: RelayIdentity, port: number, metricsPort: number, config: RelayConfig, configFile: string, relay: Relay | null, proc: ReturnType<typeof spawn> | null }

export interface Epochnet {
  readonly schedule: { genesisMs: number, epochMs: number, graceMs: number }
  readonly authorities: Authority[]
  readonly refs: Array<{ url: string, publicKey: string }>
  readonly nodes: EpochNode[]
  readonly ingress: { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array }, keys: IngressKeys }
  /** A directory client as a sender would hold. */
  readonly directory: DirectoryClient
  byName: (n: string) => EpochNode
  /** A packet over gwA, mix1, mix2, mix3, gwB to the ingress, with the keys of `doc`. */
  packetToIngress: (doc: NetworkDocument, sphinx: Sphinx, payload: Buffer, rng: Rng) => Buffer
  start: (n: EpochNode) => Promise<Relay>
  /** Run a node as `sealmix run` (resolves once it has started: /readyz no longer says 'starting'). */
  spawn: (n: EpochNode) => Promise<void>
  stop: () => Promise<void>
}

export const EPOCH_MIXING: MixingParams = { strategy: 'batch', intervalMs: 20, minPool: 0, flushFraction: 1, minBatch: 0, maxDelayMs: 2000, loopRatePerSec: 0 }

export async function createEpochnet (c: CryptoSuite, o: { epochMs: number, graceMs: number, maxSkewMs: number, bootMs?: number }): Promise<Epochnet> {
  const root = mkdtempSync(join(tmpdir(), 'sealmix-epochnet-'))
  const schedule = { genesisMs: Date.now() + (o.bootMs ?? 3000), epochMs: o.epochMs, graceMs: o.graceMs }
  const keys = [0, 1, 2].map(() => { const s = Buffer.alloc(32); c.randomFill(s); return c.signSeedKeypair(s) })
  const ports = [await freePort(), await freePort(), await freePort()]
  const refs = keys.map((k, i) => ({ url: `http://127.0.0.1:${ports[i]!}`, publicKey: Buffer.from(k.publicKey).toString('hex') }))
  const nodes: EpochNode[] = []
  for (const [name, role, layer] of [['gwA', 'gateway', 0], ['gwB', 'gateway', 0], ['mix1', 'mix', 1], ['mix2', 'mix', 2], ['mix3', 'mix', 3]] as const) {
    const dir = join(root, name)
    ensureKeys(c, dir, false)
    const [port, metricsPort] = [await freePort(), await freePort()]
    const raw = {
      role, dataDir: dir, listen: { host: '127.0.0.1', port },
      directory: { authorities: refs, address: `ws://127.0.0.1:${port}`, layer, maxSkewMs: o.maxSkewMs },
      limits: { workers: 1, handshakeTimeoutMs: 2000, pingIntervalMs: 1000 }, replay: { capacity: 100_000 }, metrics: { port: metricsPort }, log: { level: 'silent' }
    }
    const configFile = join(root, `${name}.json`)
    writeFileSync(configFile, JSON.stringify({ ...raw, log: { level: 'info' } }))
    nodes.push({ name, role, layer, dir, keys: loadIdentity(c, dir), port, metricsPort, config: parseConfig(raw, root), configFile, relay: null, proc: null })
  }
  // The operators of the authorities admitted these five relays and the ingresses of example.org (bound by its root key).
  const ingressDir = join(root, 'ingress')
  const { rootPublicKey } = initIngressKeys(c, ingressDir, 'example.org', Date.now())
  const ik = loadIngressKeys(c, ingressDir, 'example.org')
  const admission = { relays: nodes.map(n => ({ identityKey: Buffer.from(n.keys.identity.publicKey).toString('hex'), role: n.role, layer: n.layer })), servers: [{ name: 'example.org', rootKeys: [rootPublicKey!.toString('hex')] }] }
  const authorities = keys.map((k, i) => new Authority({
    crypto: c, signing: k, network: 'epochnet', schedule, graceMs: o.graceMs, geometry: NETWORK_GEOMETRY, mixing: EPOCH_MIXING, ingresses: [], host: '127.0.0.1', port: ports[i]!, peers: refs.filter((_, j) => j !== i), admission
  }))
  for (const a of authorities) await a.start()
  const gwB = nodes[1]!
  const ingressDescriptor = signIngressDescriptor(c, ingressEntry(ik, [gwB.keys.id]), Date.now(), ik.identity.secretKey)
  const posted = await fetch(`${refs[0]!.url}/v1/descriptor`, { method: 'POST', body: JSON.stringify(ingressDescriptor) })
  if (posted.status !== 200) throw new Error(`ingress descriptor refused: ${posted.status}`)
  const net: Epochnet = {
    schedule, authorities, refs, nodes,
    ingress: { id: ik.id, identity: ik.identity, keys: ik },
    directory: directoryClient({ crypto: c, authorities: refs, maxSkewMs: o.maxSkewMs }),
    byName: n => nodes.find(x => x.name === n)!,
    packetToIngress (doc, sphinx, payload, rng) {
      const hop = (name: string, commands: PathHop['commands']): PathHop => {
        const r = doc.relays.find(x => x.id === net.byName(name).keys.id)
        if (r === undefined) throw new Error(`${name} is not in the document of epoch ${doc.epoch}`)
        return { id: Buffer.from(r.id, 'hex'), publicKey: Buffer.from(r.mixKey, 'hex'), commands }
      }
      const d0: PathHop['commands'] = [{ type: 'node_delay', delayMs: 0 }]
      return sphinx.createPacket([hop('gwA', d0), hop('mix1', d0), hop('mix2', d0), hop('mix3', d0), hop('gwB', [{ type: 'node_delay', delayMs: 0 }, { type: 'recipient', id: Buffer.from(ik.id, 'hex') }])], payload, rng)
    },
    async start (n) {
      const relay = new Relay({ config: n.config, binding: 'sodium-native', minRetryMs: 100, maxRetryMs: 1000, logger: createLogger('trace', captureStream) })
      n.relay = relay
      await relay.start()
      return relay
    },
    async spawn (n) {
      const p = spawn(process.execPath, [...SEALMIX, 'run', '--config', n.configFile], { cwd: PROJECT, stdio: 'ignore' })
      n.proc = p
      // /healthz answers from the first moment; /readyz stops saying 'starting' once it listens.
      await waitFor(async () => { const r = await httpGet(n.metricsPort, '/readyz').catch(() => ({ status: 0, body: '' })); return r.status !== 0 && !r.body.includes('starting') }, 30_000, `${n.name} up`)
    },
    async stop () {
      await Promise.all(nodes.map(async n => {
        await n.relay?.stop(); n.relay = null
        const p = n.proc
        if (p !== null && p.exitCode === null) await new Promise(resolve => { p.once('exit', resolve); p.kill('SIGKILL') })
        n.proc = null
      }))
      for (const a of authorities) await a.stop()
      rmSync(root, { recursive: true, force: true })
    }
  }
  return net
}
