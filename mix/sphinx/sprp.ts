/**
 * The payload SPRP (docs/PROTOCOL.md §7): LIONESS over ChaCha20 (DJB, zero nonce) and keyed
 * BLAKE2b-256, as in burdges/lioness-rs. The SPRP is an interface so a test can plug in AEZ and
 * reproduce Katzenpost's full vectors.
 */
import type { CryptoSuite } from '../crypto/suite.ts'

export interface Sprp {
  readonly name: string
  /** Encrypt body in place under a 48-byte key and 16-byte IV. */
  encrypt(key: Uint8Array, iv: Uint8Array, body: Buffer): void
  /** Decrypt body in place. */
  decrypt(key: Uint8Array, iv: Uint8Array, body: Buffer): void
}

export const LIONESS_KEY_BYTES = 192
export const LIONESS_INFO = 'sealmix-lioness-v0'
const HALF = 32

/** Per-hop LIONESS key: HKDF-SHA256(ikm = key48, salt = iv16, info "sealmix-lioness-v0", 192 B). */
export function lionessKey(crypto: CryptoSuite, key: Uint8Array, iv: Uint8Array): Buffer {
  return crypto.hkdf(key, iv, LIONESS_INFO, LIONESS_KEY_BYTES)
}

function round1(crypto: CryptoSuite, block: Buffer, mask: Buffer, tmp: Buffer): void {
  // R ^= ChaCha20(L ⊕ mask)
  for (let i = 0; i < HALF; i++) tmp[i] = (block[i] as number) ^ (mask[i] as number)
  const r = block.subarray(HALF)
  crypto.chacha20Xor(r, r, tmp)
}

function round2(crypto: CryptoSuite, block: Buffer, hkey: Buffer, tmp: Buffer): void {
  // L ^= BLAKE2b-256(key = hkey, R)
  crypto.blake2b(tmp, block.subarray(HALF), hkey)
  for (let i = 0; i < HALF; i++) block[i] = (block[i] as number) ^ (tmp[i] as number)
}

/** LIONESS encrypt in place with the raw 192-byte key k1 ‖ k2 ‖ k3 ‖ k4. block.length must exceed 32. */
export function lionessEncryptRaw(crypto: CryptoSuite, k: Buffer, block: Buffer): void {
  const tmp = Buffer.allocUnsafe(HALF)
  round1(crypto, block, k.subarray(0, 32), tmp)
  round2(crypto, block, k.subarray(32, 96), tmp)
  round1(crypto, block, k.subarray(96, 128), tmp)
  round2(crypto, block, k.subarray(128, 192), tmp)
}

/** LIONESS decrypt in place (the rounds of lionessEncryptRaw in reverse). */
export function lionessDecryptRaw(crypto: CryptoSuite, k: Buffer, block: Buffer): void {
  const tmp = Buffer.allocUnsafe(HALF)
  round2(crypto, block, k.subarray(128, 192), tmp)
  round1(crypto, block, k.subarray(96, 128), tmp)
  round2(crypto, block, k.subarray(32, 96), tmp)
  round1(crypto, block, k.subarray(0, 32), tmp)
}

export function createLioness(crypto: CryptoSuite): Sprp {
  return {
    name: 'lioness-chacha20-blake2b',
    encrypt(key, iv, body) {
      const k = lionessKey(crypto, key, iv)
      lionessEncryptRaw(crypto, k, body)
      k.fill(0)
    },
    decrypt(key, iv, body) {
      const k = lionessKey(crypto, key, iv)
      lionessDecryptRaw(crypto, k, body)
      k.fill(0)
    }
  }
}
