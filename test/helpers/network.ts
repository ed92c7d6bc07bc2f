/** Build a signed network document for tests: relays with identity and mix keys, ingresses. */
import {
  type CryptoSuite,
  geometryHash,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  type Rng,
  relayId,
  signDocument
} from '../../mix/index.ts'
import { TEST_MIXING } from '../../tools/network/layout.ts'

export interface TestRelay {
  id: string
  role: 'gateway' | 'mix'
  layer: number
  identity: { publicKey: Uint8Array; secretKey: Uint8Array }
  mix: { publicKey: Buffer; secretKey: Buffer }
  address: string
}

export function testRelay(
  c: CryptoSuite,
  rng: Rng,
  role: 'gateway' | 'mix',
  layer: number,
  address: string
): TestRelay {
  const identity = c.signSeedKeypair(rng.bytes(32))
  const sk = rng.bytes(32)
  const pk = Buffer.alloc(32)
  c.x25519Base(pk, sk)
  return { id: relayId(c, identity.publicKey), role, layer, identity, mix: { publicKey: pk, secretKey: sk }, address }
}

export function testDocument(
  c: CryptoSuite,
  relays: TestRelay[],
  over: Partial<NetworkDocument> = {},
  nowMs = Date.now()
): NetworkDocument {
  return {
    version: 1,
    network: 'test',
    epoch: 0,
    validFromMs: nowMs - 3600_000,
    validUntilMs: nowMs + 24 * 3600_000,
    geometry: {
      hops: NETWORK_GEOMETRY.hops,
      userPayloadBytes: NETWORK_GEOMETRY.userPayloadBytes,
      hash: geometryHash(c, NETWORK_GEOMETRY).toString('hex')
    },
    mixing: TEST_MIXING,
    relays: relays.map(r => ({
      id: r.id,
      role: r.role,
      layer: r.layer,
      address: r.address,
      identityKey: Buffer.from(r.identity.publicKey).toString('hex'),
      mixKey: r.mix.publicKey.toString('hex')
    })),
    ingresses: [],
    ...over
  }
}

export function signedBytes(
  c: CryptoSuite,
  d: NetworkDocument,
  signers: Array<{ publicKey: Uint8Array; secretKey: Uint8Array }>
): Buffer {
  return Buffer.from(JSON.stringify(signDocument(c, d, signers)))
}
