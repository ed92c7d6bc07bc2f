/**
 * A network that follows directory authorities, on 127.0.0.1 with epochs of seconds, laid out by
 * the launcher (tools/network/launch.ts) in directory mode: three in-process Authority servers
 * and 2 gateways plus one mix per layer (each a real Relay with its own data directory, LevelDB,
 * workers and listener, or a `sealmix run` process), and an ingress listed by its own signed
 * descriptor. Genesis is a few seconds ahead so that every relay's first descriptor makes epoch
 * 0's document.
 */
import { join } from 'node:path'
import { directoryClient } from '../../client/directory.ts'
import { type Authority, ingressDescriptor, type Relay, type RelayIdentity } from '../../daemon/index.ts'
import {
  type CryptoSuite,
  type DirectoryClient,
  type NetworkDocument,
  type Rng,
  type Sphinx,
  signIngressDescriptor
} from '../../mix/index.ts'
import { EXIT, type LaunchedRelay, launchNetwork, TESTNET_MIXING } from '../../tools/index.ts'
import { inProcessRelay, routePacket, TEST_RELAY_CONFIG, type TestIngress, testIngress } from './testnet.ts'

export type EpochNode = LaunchedRelay<RelayIdentity>

export interface Epochnet {
  readonly schedule: { genesisMs: number; epochMs: number; graceMs: number }
  readonly authorities: Authority[]
  readonly refs: Array<{ url: string; publicKey: string }>
  readonly nodes: EpochNode[]
  readonly ingress: TestIngress
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

export async function createEpochnet(
  c: CryptoSuite,
  o: { epochMs: number; graceMs: number; maxSkewMs: number; bootMs?: number }
): Promise<Epochnet> {
  const net = await launchNetwork(c, {
    mode: {
      kind: 'directory',
      network: 'epochnet',
      mixing: TESTNET_MIXING,
      epochMs: o.epochMs,
      graceMs: o.graceMs,
      maxSkewMs: o.maxSkewMs
    },
    naming: 'short',
    format: 'json',
    logLevel: 'info',
    config: TEST_RELAY_CONFIG,
    inProcess: inProcessRelay
  })
  // The operators of the authorities admitted these five relays and the ingresses of example.org (bound by its root key).
  const ingress = testIngress(c, join(net.root, 'ingress'))
  const schedule = { genesisMs: Date.now() + (o.bootMs ?? 3000), epochMs: o.epochMs, graceMs: o.graceMs }
  await net.startAuthorities({
    genesisMs: schedule.genesisMs,
    servers: [{ name: 'example.org', rootKeys: [ingress.serverRoot.toString('hex')] }],
    run: 'in-process'
  })
  const descriptor = signIngressDescriptor(
    c,
    ingressDescriptor(ingress.keys, [net.byName(EXIT.short).keys.id]),
    Date.now(),
    ingress.identity.secretKey
  )
  const posted = await fetch(`${net.refs[0]!.url}/v1/descriptor`, { method: 'POST', body: JSON.stringify(descriptor) })
  if (posted.status !== 200) throw new Error(`ingress descriptor refused: ${posted.status}`)
  return {
    schedule,
    authorities: net.authorities.map(a => a.server!),
    refs: net.refs,
    nodes: net.relays,
    ingress,
    directory: directoryClient({ crypto: c, authorities: net.refs, maxSkewMs: o.maxSkewMs }),
    byName: net.byName,
    packetToIngress: (doc, sphinx, payload, rng) => routePacket(doc, net.byName, ingress.id, sphinx, payload, rng),
    async start(n) {
      await net.start(n, 'in-process')
      return n.relay!
    },
    async spawn(n) {
      await net.start(n, 'process')
      await net.untilUp(n, 30_000)
    },
    async stop() {
      await net.stop()
    }
  }
}
