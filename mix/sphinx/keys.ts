/**
 * Per-hop key schedule (docs/PROTOCOL.md §3): HKDF-SHA256 Expand-only over the raw X25519 output,
 * info "katzenpost-kdf-v0-hkdf-sha256", 160 bytes.
 */
import type { CryptoSuite } from '../crypto/suite.ts'

export const KDF_INFO = Buffer.from('katzenpost-kdf-v0-hkdf-sha256', 'latin1')
export const KDF_OUTPUT_BYTES = 160

export interface HopKeys {
  readonly headerMac: Buffer /** 32 */
  readonly headerKey: Buffer /** 32, AES-256-CTR */
  readonly headerIv: Buffer /** 16, also the SPRP IV */
  readonly payloadKey: Buffer /** 48, SPRP key */
  readonly blindingSeed: Buffer /** 32 */
}

export function deriveHopKeys(crypto: CryptoSuite, sharedSecret: Uint8Array): HopKeys {
  const okm = crypto.hkdfExpand(sharedSecret, KDF_INFO, KDF_OUTPUT_BYTES)
  return {
    headerMac: okm.subarray(0, 32),
    headerKey: okm.subarray(32, 64),
    headerIv: okm.subarray(64, 80),
    payloadKey: okm.subarray(80, 128),
    blindingSeed: okm.subarray(128, 160)
  }
}

const ZERO32 = Buffer.alloc(32)

/** b = ChaCha20(key = seed, nonce 0^8)[0:32], used directly as an X25519 scalar (clamped by X25519). */
export function blindingFactor(crypto: CryptoSuite, seed: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(32).fill(0)
  crypto.chacha20Xor(b, ZERO32, seed)
  return b
}
