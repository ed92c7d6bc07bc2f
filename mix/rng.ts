/**
 * Randomness is injected into mix/: every function that needs random bytes takes an Rng.
 * systemRng draws from the OS CSPRNG through the binding; deterministicRng (tests, vectors,
 * reproducible simulations) expands a seed with ChaCha20.
 */
import type { CryptoSuite } from './crypto/suite.ts'

export interface Rng {
  /** n fresh random bytes. */
  bytes(n: number): Buffer
}

export function systemRng(crypto: CryptoSuite): Rng {
  return {
    bytes(n) {
      const b = Buffer.alloc(n)
      crypto.randomFill(b)
      return b
    }
  }
}

/** A reproducible stream: ChaCha20(key = BLAKE2b-256(seed)) with a 64-bit block counter as key tweak. */
export function deterministicRng(crypto: CryptoSuite, seed: Uint8Array | string): Rng {
  const key = Buffer.alloc(32)
  crypto.blake2b(key, typeof seed === 'string' ? Buffer.from(seed) : seed)
  let counter = 0n
  let pool = Buffer.alloc(0)
  return {
    bytes(n) {
      while (pool.length < n) {
        const k = Buffer.alloc(32)
        const c = Buffer.alloc(8)
        c.writeBigUInt64BE(counter++)
        crypto.blake2b(k, c, key)
        const block = Buffer.alloc(4096)
        crypto.chacha20Xor(block, block, k)
        pool = Buffer.concat([pool, block])
      }
      const out = pool.subarray(0, n)
      pool = pool.subarray(n)
      return Buffer.from(out)
    }
  }
}
