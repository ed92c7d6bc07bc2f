/** Load and verify a signed network file for a client or an ingress (the directory issue adds fetching). */
import { readFileSync } from 'node:fs'
import { NETWORK_GEOMETRY, verifyDocument, type CryptoSuite, type NetworkDocument } from '../mix/index.ts'
import { ClientError } from './errors.ts'

export function loadNetwork (c: CryptoSuite, bytes: Uint8Array, signers: readonly string[], nowMs: number): NetworkDocument {
  const r = verifyDocument(c, bytes, { signers: signers.map(s => Buffer.from(s, 'hex')), geometry: NETWORK_GEOMETRY, nowMs })
  if (!r.ok) throw new ClientError('CLIENT_NETWORK_INVALID', `the network document was refused: ${r.code}${r.detail !== undefined ? ` (${r.detail})` : ''}`)
  return r.value
}

export function loadNetworkFile (c: CryptoSuite, file: string, signers: readonly string[], nowMs: number): NetworkDocument {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (e) {
    throw new ClientError('CLIENT_NETWORK_INVALID', `cannot read the network file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unknown error'}`)
  }
  return loadNetwork(c, bytes, signers, nowMs)
}
