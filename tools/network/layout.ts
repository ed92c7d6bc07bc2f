/**
 * The network the launcher (launch.ts) lays out for the devnet, the audit and the tests, as data: five relays
 * (an entry gateway, one mix in each of the three mix layers, an exit gateway), three directory
 * authorities, and the mixing presets each kind of run uses. Who forwards to whom is
 * docs/PROTOCOL.md §17 (each relay dials every relay of the next layer).
 */
import { DEFAULT_MIXING, type MixingParams, NETWORK_GEOMETRY } from '../../mix/index.ts'

export type RelayRole = 'gateway' | 'mix'

export interface RelaySpec {
  /** The operator's name: its data directory and config file (`<name>.yaml`) in the devnet. */
  readonly name: string
  /** The tests' name for it (gwA, mix1, ...). */
  readonly short: string
  readonly role: RelayRole
  /** 0 for a gateway, 1..3 for a mix. */
  readonly layer: number
}

/** The entry gateway: the tests' clients attach here. */
export const ENTRY: RelaySpec = { name: 'gateway-a', short: 'gwA', role: 'gateway', layer: 0 }
/** The exit gateway: the tests' ingress links here. */
export const EXIT: RelaySpec = { name: 'gateway-b', short: 'gwB', role: 'gateway', layer: 0 }
const MIXES: readonly RelaySpec[] = [1, 2, 3].map(layer => ({
  name: `mix-${layer}`,
  short: `mix${layer}`,
  role: 'mix' as const,
  layer
}))

/** The five relays, gateways first (the order of every listing: configs, status, admission). */
export const RELAY_LAYOUT: readonly RelaySpec[] = [ENTRY, EXIT, ...MIXES]

/** The route a packet takes through the layout: entry gateway, mix layers 1 to 3, exit gateway. */
export const ROUTE: readonly RelaySpec[] = [ENTRY, ...MIXES, EXIT]

/** Layers 0 (gateways) to 3: a path has one hop per layer and then the exit gateway again. */
export const LAYERS = NETWORK_GEOMETRY.hops - 1

/** The layer a relay of `layer` forwards to (the last mix layer forwards to the gateways). */
export function nextLayer(layer: number): number {
  return (layer + 1) % LAYERS
}

/** How many outgoing links a relay of `spec` holds once up: one to each relay of the next layer. */
export function linksOf(spec: { readonly layer: number }, layout: readonly RelaySpec[] = RELAY_LAYOUT): number {
  return layout.filter(r => r.layer === nextLayer(spec.layer)).length
}

/** Relay-to-relay links of the whole layout (6: two gateways to mix-1, mix-1 to mix-2, mix-2 to mix-3, mix-3 to two gateways). */
export const RELAY_LINKS = RELAY_LAYOUT.reduce((sum, r) => sum + linksOf(r), 0)

/** The directory authorities of a network in directory mode: a document needs a majority of their signatures. */
export const AUTHORITY_NAMES: readonly string[] = ['authority-1', 'authority-2', 'authority-3']

/** The tests' networks (testnet, epochnet): a round every 20 ms, nothing held back, no cover, so a packet crosses in well under a second. */
export const TESTNET_MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 20,
  minPool: 0,
  flushFraction: 1,
  minBatch: 0,
  maxDelayMs: 2000,
  loopRatePerSec: 0
}

/** Documents the unit tests build by hand (test/helpers/network.ts): the testnet's, with rounds of 50 ms. */
export const TEST_MIXING: MixingParams = { ...TESTNET_MIXING, intervalMs: 50 }

/** The devnet's mixing: a smaller pool than the default, so the demo's light traffic is not held for long. */
export const DEVNET_MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 4,
  flushFraction: 0.7,
  minBatch: 2,
  maxDelayMs: 5000,
  loopRatePerSec: 2,
  clientRatePerSec: 5,
  clientLoopRatePerSec: 1
}

/** The audit's positive control, mixing switched off: every packet leaves within a millisecond of arriving. */
export const NO_MIXING: MixingParams = {
  ...DEFAULT_MIXING,
  strategy: 'poisson',
  intervalMs: 1,
  minPool: 0,
  minBatch: 0,
  maxDelayMs: 0
}

/** Offered packets per second at one mix of `npm start`'s devnet (measured, docs/BENCHMARKS.md): the audit's demo load. */
export const DEMO_LOAD = 20
