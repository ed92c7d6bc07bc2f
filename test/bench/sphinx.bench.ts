/**
 * Sphinx create and unwrap for the network geometry (r = 5, U = 2048), per binding, each beside
 * its bare crypto floor measured in the same run:
 * - unwrap floor: the primitive calls of one forwarding hop on preallocated buffers (2 X25519,
 *   HKDF-Expand 160 B, HMAC over AD‖α‖β, SHA-512/256, AES-256-CTR over β‖0^82, one ChaCha20 block
 *   for the blinding scalar, HKDF 192 B for LIONESS, 2 ChaCha20 + 2 keyed BLAKE2b over 2048 B);
 * - create floor: the 20 X25519 of the construction plus, per hop, HKDF-Expand, the blinding
 *   block, the 492-byte AES-CTR keystream, one header HMAC and one LIONESS encryption.
 */
import {
  BINDINGS,
  type CryptoSuite,
  deterministicRng,
  lionessDecryptRaw,
  lionessEncryptRaw,
  loadCrypto,
  NETWORK_GEOMETRY,
  type PathHop,
  Sphinx
} from '../../mix/index.ts'
import { type BenchResult, runPair } from './harness.ts'

const INFO = Buffer.from('katzenpost-kdf-v0-hkdf-sha256', 'latin1')

function network(c: CryptoSuite): { path: PathHop[]; sks: Buffer[] } {
  const rng = deterministicRng(c, 'bench-path')
  const path: PathHop[] = []
  const sks: Buffer[] = []
  for (let i = 0; i < 5; i++) {
    const sk = rng.bytes(32)
    const pk = Buffer.alloc(32)
    c.x25519Base(pk, sk)
    sks.push(sk)
    path.push({
      id: rng.bytes(32),
      publicKey: pk,
      commands:
        i < 4
          ? [{ type: 'node_delay', delayMs: 50 }]
          : [
              { type: 'node_delay', delayMs: 50 },
              { type: 'recipient', id: rng.bytes(32) }
            ]
    })
  }
  return { path, sks }
}

export async function benchSphinx(): Promise<BenchResult[]> {
  const out: BenchResult[] = []
  for (const binding of BINDINGS) {
    const c = await loadCrypto(binding)
    const sphinx = new Sphinx(c)
    const g = NETWORK_GEOMETRY
    const rng = deterministicRng(c, 'bench')
    const { path, sks } = network(c)
    const payload = rng.bytes(g.userPayloadBytes)
    const packet = sphinx.createPacket(path, payload, rng)
    const sk0 = sks[0]!

    // Preallocated buffers for the floors.
    const ss = Buffer.alloc(32)
    const alpha2 = Buffer.alloc(32)
    const blind = Buffer.alloc(32)
    const zero32 = Buffer.alloc(32)
    const ri = Buffer.alloc(g.routingInfoBytes + 82)
    const body = Buffer.from(packet.subarray(g.headerBytes))
    const alpha = packet.subarray(2, 34)
    const authed = packet.subarray(0, g.macOffset)
    const unwrapFloor = (): void => {
      c.x25519(ss, sk0, alpha)
      const okm = c.hkdfExpand(ss, INFO, 160)
      c.hmacSha256(okm.subarray(0, 32), authed)
      c.sha512_256(ss)
      c.aes256CtrXor(ri, ri, okm.subarray(32, 64), okm.subarray(64, 80))
      c.chacha20Xor(blind, zero32, okm.subarray(128, 160))
      const lk = c.hkdf(okm.subarray(80, 128), okm.subarray(64, 80), 'sealmix-lioness-v0', 192)
      lionessDecryptRaw(c, lk, body)
      c.x25519(alpha2, blind, alpha)
    }
    out.push(
      runPair({
        name: `unwrap/${binding}`,
        op: () => {
          sphinx.unwrap(packet, { keys: [sk0] })
        },
        floor: unwrapFloor,
        note: 'one forwarding hop, r=5, U=2048; floor = the same primitive calls on preallocated buffers'
      })
    )

    const pks = path.map(h => h.publicKey)
    const x = rng.bytes(32)
    const s = Buffer.alloc(32)
    const ks = Buffer.alloc(82 * 6)
    const mac = Buffer.alloc(32)
    const createFloor = (): void => {
      c.x25519Base(s, x) // α_0
      for (let i = 0; i < 5; i++) {
        c.x25519(s, x, pks[i]!) // ss_i
        for (let j = 0; j < i; j++) c.x25519(s, blind, s) // blinding of ss_i
        if (i > 0) c.x25519(alpha2, blind, alpha) // α_i
        const okm = c.hkdfExpand(s, INFO, 160)
        c.chacha20Xor(blind, zero32, okm.subarray(128, 160))
        ks.fill(0)
        c.aes256CtrXor(ks, ks, okm.subarray(32, 64), okm.subarray(64, 80))
        c.hmacSha256(okm.subarray(0, 32), authed).copy(mac)
        const lk = c.hkdf(okm.subarray(80, 128), okm.subarray(64, 80), 'sealmix-lioness-v0', 192)
        lionessEncryptRaw(c, lk, body)
      }
    }
    out.push(
      runPair(
        {
          name: `create/${binding}`,
          op: () => {
            sphinx.createPacket(path, payload, rng)
          },
          floor: createFloor,
          note: '5-hop forward packet, U=2048; floor = 20 X25519 + per-hop KDF, blinding block, AES-CTR keystream, HMAC, LIONESS'
        },
        { rounds: 7, batchMs: 200 }
      )
    )
  }
  return out
}
