/**
 * An Ed25519 signing key kept as its 32-byte seed in a secret file: a directory authority's key,
 * or the signer of a static network file. Made on first use where asked; a missing or
 * wrong-size or unreadable file stops with RELAY_KEYS_INVALID (exit 78) naming the file, never a
 * half-read key.
 */
import type { CryptoSuite } from '../../mix/index.ts'
import { RelayError } from './errors.ts'
import { createSecretKey, readSecretFile } from './secret-file.ts'

export interface SigningKey {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

export function signingKey(c: CryptoSuite, file: string, o: { create: boolean }): SigningKey {
  if (o.create) createSecretKey(file, 32, b => c.randomFill(b))
  const r = readSecretFile(file, 32)
  if (r.kind === 'unreadable') throw RelayError.KEYS_INVALID(`${file} cannot be read (${r.errno})`)
  if (r.kind === 'missing') throw RelayError.KEYS_INVALID(`${file} is missing`)
  if (r.kind === 'wrong-size') throw RelayError.KEYS_INVALID(`${file} must hold exactly 32 bytes`)
  const pair = c.signSeedKeypair(r.bytes)
  r.bytes.fill(0)
  return pair
}
