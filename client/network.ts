/** Verify the bytes of a signed network document for a client (a static network, or one fetched by the app). */
import { type CryptoSuite, NETWORK_GEOMETRY, type NetworkDocument, verifyDocument } from '../mix/index.ts'
import { ClientError } from './errors.ts'

export function loadNetwork(
  c: CryptoSuite,
  bytes: Uint8Array,
  signers: readonly string[],
  nowMs: number
): NetworkDocument {
  const r = verifyDocument(c, bytes, {
    signers: signers.map(s => Buffer.from(s, 'hex')),
    geometry: NETWORK_GEOMETRY,
    nowMs
  })
  if (!r.ok)
    throw new ClientError(
      'CLIENT_NETWORK_INVALID',
      `the network document was refused: ${r.code}${r.detail !== undefined ? ` (${r.detail})` : ''}`
    )
  return r.value
}
