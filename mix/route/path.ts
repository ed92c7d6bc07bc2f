/**
 * Path selection for clients (pure, randomness injected). A fresh path per packet:
 * the client's own entry gateway, one relay drawn uniformly from each mix layer, and an exit
 * gateway; per-hop delays drawn from an exponential distribution (Loopix) when the network mixes
 * by the poisson strategy.
 */

import type { NetworkDocument, RelayDescriptor } from '../directory/document.ts'
import { MixError } from '../errors.ts'
import { clientHopDelayMs } from '../mixing/registry.ts'
import { randomInt } from '../mixing/strategies.ts'
import type { Rng } from '../rng.ts'
import type { Command } from '../sphinx/commands.ts'
import type { PathHop } from '../sphinx/create.ts'

export const MIX_LAYERS = 3
/** Client traffic defaults when the network document does not set them. */
export const CLIENT_DEFAULTS = { clientRatePerSec: 2, clientLoopRatePerSec: 0.5 } as const

export interface ClientRates {
  /** Poisson send slots per second (lambda P): a real packet when one is queued, else drop cover. */
  readonly clientRatePerSec: number
  /** Poisson loop cover per second (lambda L): a packet that comes back to the client's own mailbox. */
  readonly clientLoopRatePerSec: number
  /** Mean of the exponential per-hop delay written into node_delay (the strategy's default: mix/mixing/registry.ts). */
  readonly hopDelayMs: number
}

export function clientRates(doc: NetworkDocument): ClientRates {
  const m = doc.mixing
  return {
    clientRatePerSec: m.clientRatePerSec ?? CLIENT_DEFAULTS.clientRatePerSec,
    clientLoopRatePerSec: m.clientLoopRatePerSec ?? CLIENT_DEFAULTS.clientLoopRatePerSec,
    hopDelayMs: m.hopDelayMs ?? clientHopDelayMs(m)
  }
}

/** A uniform draw in (0, 1] from 53 random bits. */
export function uniform01(rng: Rng): number {
  const b = rng.bytes(8)
  const hi = b.readUInt32BE(0) >>> 5
  const lo = b.readUInt32BE(4) >>> 6
  return (hi * 67108864 + lo + 1) / 9007199254740992
}

/** An exponential draw with the given mean (for Poisson schedules and per-hop delays). */
export function exponential(rng: Rng, mean: number): number {
  return mean <= 0 ? 0 : -Math.log(uniform01(rng)) * mean
}

function pick(doc: NetworkDocument, rng: Rng, ok: (r: RelayDescriptor) => boolean, what: string): RelayDescriptor {
  const all = doc.relays.filter(ok)
  if (all.length === 0) throw MixError.BAD_ARGUMENT(`the network document lists no ${what}`)
  return all[randomInt(rng, all.length)]!
}

export function relayById(doc: NetworkDocument, id: string): RelayDescriptor {
  const r = doc.relays.find(x => x.id === id)
  if (r === undefined) throw MixError.BAD_ARGUMENT(`relay ${id.slice(0, 8)}… is not in the network document`)
  return r
}

/** The relays of one route: first, then one per mix layer, then last. */
export function routeVia(doc: NetworkDocument, rng: Rng, firstId: string, lastId: string): RelayDescriptor[] {
  const route = [relayById(doc, firstId)]
  for (let layer = 1; layer <= MIX_LAYERS; layer++)
    route.push(pick(doc, rng, r => r.role === 'mix' && r.layer === layer, `mix in layer ${layer}`))
  route.push(relayById(doc, lastId))
  return route
}

/** A random exit gateway of an ingress. */
export function exitGatewayOf(doc: NetworkDocument, rng: Rng, ingressId: string): string {
  const ing = doc.ingresses.find(i => i.id === ingressId)
  if (ing === undefined || ing.gateways.length === 0)
    throw MixError.BAD_ARGUMENT('the ingress is not in the network document')
  return ing.gateways[randomInt(rng, ing.gateways.length)]!
}

/**
 * Sphinx hops for a route: every hop gets a node_delay (exponential, mean hopDelayMs), and the last
 * hop also gets `final` (recipient). The last hop of a SURB carries only recipient and surb_reply
 * (the role rule of docs/PROTOCOL.md §4).
 */
export function hopsFor(
  route: readonly RelayDescriptor[],
  rng: Rng,
  hopDelayMs: number,
  final: readonly Command[]
): PathHop[] {
  return route.map((r, i) => {
    const delay: Command = {
      type: 'node_delay',
      delayMs: Math.min(0xffffffff, Math.round(exponential(rng, hopDelayMs)))
    }
    const last = i === route.length - 1
    const commands = !last ? [delay] : final.some(c => c.type === 'surb_reply') ? [...final] : [delay, ...final]
    return { id: Buffer.from(r.id, 'hex'), publicKey: Buffer.from(r.mixKey, 'hex'), commands }
  })
}
