/**
 * Building the signed network file (a static topology, for networks without directory
 * authorities): relay descriptors from `sealmix keygen`, ingress descriptors, mixing parameters,
 * signed by one or more signer keys. The file is checked as a relay will check it before it is
 * written, so a bad descriptor is refused here and not by every relay at its next start.
 */
import { signingKey, writeFileAtomic } from '../daemon/index.ts'
import {
  type CryptoSuite,
  DEFAULT_MIXING,
  geometryHash,
  type IngressDescriptor,
  type MixingParams,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  type RelayDescriptor,
  signDocument,
  verifyDocument
} from '../mix/index.ts'

export interface SignerKey {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/** Create (if absent) and load a 32-byte Ed25519 seed file for signing network documents (daemon/io/secret-file.ts: atomic, 0600, never replaced). */
export function loadSignerKey(c: CryptoSuite, file: string, create = false): SignerKey {
  return signingKey(c, file, { create })
}

export function buildNetworkDocument(
  c: CryptoSuite,
  o: {
    network: string
    relays: RelayDescriptor[]
    ingresses?: IngressDescriptor[]
    mixing?: Partial<MixingParams>
    nowMs: number
    validForMs?: number
  }
): NetworkDocument {
  return {
    version: 1,
    network: o.network,
    epoch: 0,
    validFromMs: o.nowMs - 60_000,
    validUntilMs: o.nowMs + (o.validForMs ?? 365 * 24 * 3600_000),
    geometry: {
      hops: NETWORK_GEOMETRY.hops,
      userPayloadBytes: NETWORK_GEOMETRY.userPayloadBytes,
      hash: geometryHash(c, NETWORK_GEOMETRY).toString('hex')
    },
    mixing: { ...DEFAULT_MIXING, ...o.mixing },
    relays: o.relays,
    ingresses: o.ingresses ?? []
  }
}

/**
 * Sign and write, after checking the signed file as a relay would (shape, ids, gateways of each
 * ingress) and that every layer has a relay. Returns the refusal in words, or null once written.
 */
export function writeNetworkFile(
  c: CryptoSuite,
  file: string,
  doc: NetworkDocument,
  signers: SignerKey[],
  names?: { readonly relays: readonly string[] }
): string | null {
  const verify = (text: string, d: NetworkDocument): string | null => {
    const v = verifyDocument(c, Buffer.from(text), {
      signers: signers.map(s => s.publicKey),
      geometry: NETWORK_GEOMETRY,
      nowMs: d.validFromMs
    })
    return v.ok ? null : `${v.code}${v.detail !== undefined ? ` (${v.detail})` : ''}`
  }
  const check = (d: NetworkDocument): string | null => verify(JSON.stringify(signDocument(c, d, signers)), d)
  // Signed once; the bytes checked are the bytes written.
  const text = JSON.stringify(signDocument(c, doc, signers), null, 1) + '\n'
  const whole = verify(text, doc)
  if (whole !== null) {
    // Name the first descriptor that is refused on its own, where one is.
    let culprit = ''
    doc.relays.forEach((r, i) => {
      if (culprit === '' && check({ ...doc, relays: [r], ingresses: [] }) !== null)
        culprit = ` in ${names?.relays[i] ?? `relay descriptor ${i + 1}`}`
    })
    return `the network file would be refused by every relay: ${whole}${culprit}`
  }
  const layers = NETWORK_GEOMETRY.hops - 1
  for (let layer = 0; layer < layers; layer++) {
    if (!doc.relays.some(r => r.layer === layer))
      return `no relay in layer ${layer}: every path needs ${layer === 0 ? 'a gateway' : `a mix of layer ${layer}`}`
  }
  writeFileAtomic(file, text, { mode: 0o644 })
  return null
}
