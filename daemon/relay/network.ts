/**
 * The relay's view of the network document: loaded from the signed network file, verified
 * (majority of trusted signers, geometry, validity window, ids) and indexed for routing.
 */
import {
  type CryptoSuite,
  type Geometry,
  type IngressDescriptor,
  type NetworkDocument,
  type RelayDescriptor,
  verifyIngressBinding
} from '../../mix/index.ts'
import { RelayError, readNetworkFile } from '../io/index.ts'

export class NetworkView {
  readonly doc: NetworkDocument
  readonly #relays = new Map<string, RelayDescriptor>()
  readonly #ingresses = new Map<string, IngressDescriptor>()

  constructor(doc: NetworkDocument) {
    this.doc = doc
    for (const r of doc.relays) this.#relays.set(r.id, r)
    for (const i of doc.ingresses) this.#ingresses.set(i.id, i)
  }

  relay(id: string): RelayDescriptor | undefined {
    return this.#relays.get(id)
  }
  ingress(id: string): IngressDescriptor | undefined {
    return this.#ingresses.get(id)
  }

  /** Relays of a layer (0 = gateways). */
  layer(n: number): RelayDescriptor[] {
    return this.doc.relays.filter(r => r.layer === n)
  }

  /** The layer after `n` in the stratified cycle gateway -> 1 -> 2 -> 3 -> gateway. */
  static nextLayer(n: number): number {
    return (n + 1) % 4
  }

  /** Ingresses that attach to this gateway. */
  ingressesOf(gatewayId: string): IngressDescriptor[] {
    return this.doc.ingresses.filter(i => i.gateways.includes(gatewayId))
  }
}

/**
 * Whether a gateway serves an ingress: the document lists it with the gateway, and, where the
 * operator pinned its server's root keys (`ingressRoots`), its binding verifies under them.
 */
export function servesIngress(
  c: CryptoSuite,
  gatewayId: string,
  pins: Readonly<Record<string, readonly string[]>> | undefined,
  i: IngressDescriptor,
  nowMs: number
): boolean {
  if (!i.gateways.includes(gatewayId)) return false
  if (pins === undefined) return true
  return verifyIngressBinding(
    c,
    i,
    (pins[i.serverName] ?? []).map(k => Buffer.from(k, 'hex')),
    nowMs
  ).ok
}

export function loadNetwork(
  c: CryptoSuite,
  file: string,
  signers: readonly string[],
  geometry: Geometry,
  nowMs: number
): NetworkView {
  const r = readNetworkFile(c, file, signers, geometry, nowMs)
  // The path is the operator's own config, not client metadata: naming it says which file to fix.
  if (r.kind === 'unreadable') throw RelayError.NETWORK_INVALID('unreadable', `${r.errno}: ${file}`)
  if (r.kind === 'refused') throw RelayError.NETWORK_INVALID(r.code, r.detail)
  return new NetworkView(r.doc)
}
