/** Test fixtures for Sphinx: a keyed network of relays, paths, and a hand-built one-hop header. */
import {
  type Command,
  type CryptoSuite,
  deriveHopKeys,
  type PathHop,
  type ReplayCheck,
  type Rng,
  type Sphinx,
  type UnwrapResult
} from '../../mix/index.ts'

export interface Relay {
  id: Buffer
  sk: Buffer
  pk: Buffer
}

export function makeRelays(c: CryptoSuite, rng: Rng, n: number): Relay[] {
  return Array.from({ length: n }, () => {
    const sk = rng.bytes(32)
    const pk = Buffer.alloc(32)
    c.x25519Base(pk, sk)
    return { id: rng.bytes(32), sk, pk }
  })
}

/** A strict forward path: node_delay on every hop, node_delay + recipient on the last. */
export function forwardPath(
  relays: Relay[],
  recipient: Buffer,
  delays: number[] = relays.map((_, i) => 10 + i)
): PathHop[] {
  return relays.map((r, i) => ({
    id: r.id,
    publicKey: r.pk,
    commands:
      i < relays.length - 1
        ? [{ type: 'node_delay', delayMs: delays[i]! }]
        : [
            { type: 'node_delay', delayMs: delays[i]! },
            { type: 'recipient', id: recipient }
          ]
  }))
}

/** A strict SURB reply path: node_delay on every hop, recipient + surb_reply on the last. */
export function replyPath(relays: Relay[], recipient: Buffer, surbId: Buffer): PathHop[] {
  return relays.map((r, i) => ({
    id: r.id,
    publicKey: r.pk,
    commands:
      i < relays.length - 1
        ? ([{ type: 'node_delay', delayMs: 7 }] as Command[])
        : ([
            { type: 'recipient', id: recipient },
            { type: 'surb_reply', id: surbId }
          ] as Command[])
  }))
}

export function setReplay(): ReplayCheck & { size: () => number } {
  const seen = new Set<string>()
  return {
    seen(keyIndex, tag) {
      const k = `${keyIndex}:${tag.toString('hex')}`
      if (seen.has(k)) return true
      seen.add(k)
      return false
    },
    size: () => seen.size
  }
}

/**
 * A one-hop packet whose decrypted command block is exactly `block` (82 bytes), with a valid MAC:
 * the way to reach the strict parser through unwrap with blocks the encoder refuses to build.
 */
export function oneHopWithBlock(s: Sphinx, relay: Relay, block: Buffer, rng: Rng): Buffer {
  const c = s.crypto
  const g = s.geometry
  const x = rng.bytes(32)
  const alpha = Buffer.alloc(32)
  c.x25519Base(alpha, x)
  const ss = Buffer.alloc(32)
  c.x25519(ss, x, relay.pk)
  const k = deriveHopKeys(c, ss)
  const beta = Buffer.concat([block, rng.bytes(g.routingInfoBytes - 82)])
  const ks = Buffer.alloc(beta.length)
  c.aes256CtrXor(ks, ks, k.headerKey, k.headerIv)
  for (let i = 0; i < beta.length; i++) beta[i] = beta[i]! ^ ks[i]!
  const ad = Buffer.alloc(2)
  const mac = c.hmacSha256(k.headerMac, ad, alpha, beta)
  return Buffer.concat([ad, alpha, beta, mac, rng.bytes(g.bodyBytes)])
}

/** Unwrap hop by hop along `path` until a hop does not forward; the result of every hop. */
export function route(s: Sphinx, path: Relay[], packet: Buffer): UnwrapResult[] {
  const out: UnwrapResult[] = []
  let p = packet
  for (const r of path) {
    const res = s.unwrap(p, { keys: [r.sk] })
    out.push(res)
    if (res.type !== 'forward') break
    p = res.packet
  }
  return out
}
