/**
 * The work of the browser benchmark that runs on both sides: in Node (imported through tsx) and in
 * a Chromium Web Worker (bundled by browser.bench.ts with the SDK bundle's settings). Nothing here
 * may import a node: module; `Buffer` is Node's own or the bundle's injected polyfill, as in the SDK.
 *
 * One "real packet" is what SealmixClient#sendFragment does per fragment (client/sdk.ts): a route
 * back from a random exit gateway of the ingress, its SURB (createSurb), the fragment sealed to the
 * ingress with that SURB (sealIngressPayload: boxSeal), a route out and the forward packet
 * (createPacket), for the network geometry (r = 5, U = 2048). Link framing, the outbox and the SURB
 * table are left out: they are bookkeeping, not crypto, and the same code in both places.
 */
import {
  type CryptoSuite,
  clientRates,
  DEFAULT_MIXING,
  deterministicRng,
  fragmentBytes,
  geometryHash,
  hopsFor,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  type RelayDescriptor,
  type Rng,
  randomInt,
  routeVia,
  Sphinx,
  sealIngressPayload,
  systemRng
} from '../../mix/index.ts'

const G = NETWORK_GEOMETRY

/** A document shaped like the devnet's: two gateways and one mix per layer, and one ingress behind gateway b. */
function benchDocument(c: CryptoSuite, rng: Rng): NetworkDocument {
  const hex = (n: number): string => rng.bytes(n).toString('hex')
  const mixKey = (): string => {
    const pk = Buffer.alloc(32)
    c.x25519Base(pk, rng.bytes(32))
    return pk.toString('hex')
  }
  const relay = (role: 'gateway' | 'mix', layer: number): RelayDescriptor => ({
    id: hex(32),
    role,
    layer,
    address: 'ws://127.0.0.1:1',
    identityKey: hex(32),
    mixKey: mixKey()
  })
  const relays = [relay('gateway', 0), relay('gateway', 0), relay('mix', 1), relay('mix', 2), relay('mix', 3)]
  return {
    version: 1,
    network: 'bench',
    epoch: 0,
    validFromMs: 0,
    validUntilMs: 1,
    geometry: { hops: G.hops, userPayloadBytes: G.userPayloadBytes, hash: geometryHash(c, G).toString('hex') },
    mixing: DEFAULT_MIXING,
    relays,
    ingresses: [
      {
        id: hex(32),
        serverName: 'bench.local',
        identityKey: hex(32),
        boxKey: mixKey(),
        gateways: [relays[1]!.id],
        binding: { notAfterMs: 1, signature: hex(64) }
      }
    ]
  }
}

export interface PacketWork {
  /** Build one real packet, as the SDK does per fragment. */
  once(): Buffer
}

/** The SDK's per-packet work with `rng` (systemRng, as the SDK's default, unless a check needs repeatable bytes). */
export function packetWork(c: CryptoSuite, rng: Rng = systemRng(c)): PacketWork {
  const sphinx = new Sphinx(c)
  const doc = benchDocument(c, rng)
  const rates = clientRates(doc)
  const gatewayId = doc.relays[0]!.id
  const mailboxId = rng.bytes(32)
  const ingress = doc.ingresses[0]!
  const fragment = rng.bytes(fragmentBytes(G, true))
  return {
    once() {
      // client/sdk.ts #sendFragment, line for line but for the outbox, the SURB table and the link.
      const exits = ingress.gateways.filter(g => doc.relays.some(r => r.id === g && r.role === 'gateway'))
      const exit = exits[randomInt(rng, exits.length)]!
      const surbId = rng.bytes(16)
      const back = hopsFor(routeVia(doc, rng, exit, gatewayId), rng, rates.hopDelayMs, [
        { type: 'recipient', id: mailboxId },
        { type: 'surb_reply', id: surbId }
      ])
      const { surb } = sphinx.createSurb(back, rng)
      const payload = sealIngressPayload(c, G, fragment, surb, Buffer.from(ingress.boxKey, 'hex'))
      const out = hopsFor(routeVia(doc, rng, gatewayId, exit), rng, rates.hopDelayMs, [
        { type: 'recipient', id: Buffer.from(ingress.id, 'hex') }
      ])
      return sphinx.createPacket(out, payload, rng)
    }
  }
}

/**
 * The random payload of every drop and loop cover packet (client/sdk.ts #sendDrop, #sendLoop:
 * rng.bytes(userPayloadBytes) from the SDK's default systemRng): the binding's randomFill.
 */
export function payloadRandom(c: CryptoSuite): () => void {
  const rng = systemRng(c)
  return () => {
    rng.bytes(G.userPayloadBytes)
  }
}

/**
 * What both sides must agree on, to show that they did the same work: with a repeatable rng, the
 * packet's header (α, β, γ: every route, SURB and key choice) is the same bytes in every binding.
 * The body differs by design: boxSeal draws its ephemeral key from libsodium's own randomness.
 */
export function packetCheck(c: CryptoSuite): string {
  const p = packetWork(c, deterministicRng(c, 'sealmix-browser-bench')).once()
  return `${p.length} bytes, header sha512/256 ${c.sha512_256(p.subarray(0, G.headerBytes)).toString('hex').slice(0, 16)}`
}

/** Microseconds per call of `f` over `n` calls, by the platform's performance.now (Node's or the worker's). */
export function timeBatch(f: () => void, n: number): number {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) f()
  return ((performance.now() - t0) * 1000) / n
}

/** A batch size that takes about `targetMs` (at least 4 calls), from a short timed trial. */
export function calibrate(f: () => void, targetMs: number): number {
  let n = 4
  for (;;) {
    const us = timeBatch(f, n) * n
    if (us >= (targetMs * 1000) / 4 || n >= 1 << 16) return Math.max(4, Math.round((n * targetMs * 1000) / us))
    n *= 2
  }
}
