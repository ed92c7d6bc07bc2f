/**
 * The libsodium-wrappers (WebAssembly) part of the 'libsodium-wrappers' and 'browser' bindings.
 * Its standard build has no raw ChaCha20, so each binding brings its own DJB ChaCha20.
 *
 * No node: import here: the browser bundle includes this module. libsodium-wrappers is imported when
 * a binding is made, not when this module loads, since mix/index.ts re-exports the browser binding
 * and a relay's worker threads should not each pay for a WebAssembly instance they never use.
 */
import type { BindingName, SodiumBinding } from './binding.ts'

/** Bound: the most bytes Web Crypto fills in one call. */
const RANDOM_CHUNK = 65_536

/** libsodium-wrappers returns a fresh copy of each output, so viewing it as a Buffer shares nothing. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

export async function createSodiumWasmBinding(
  name: BindingName,
  chacha20Xor: SodiumBinding['chacha20Xor']
): Promise<SodiumBinding> {
  const { default: sodium } = await import('libsodium-wrappers')
  await sodium.ready
  return {
    name,
    x25519(out, sk, pk) {
      try {
        out.set(sodium.crypto_scalarmult(sk, pk))
        return true
      } catch {
        return false // "weak public key": the all-zero output of a low-order point
      }
    },
    x25519Base(out, sk) {
      out.set(sodium.crypto_scalarmult_base(sk))
    },
    chacha20Xor,
    blake2b(out, msg, key) {
      out.set(sodium.crypto_generichash(out.length, msg, key ?? null))
    },
    kdfDerive(out, id, ctx, key) {
      out.set(sodium.crypto_kdf_derive_from_key(out.length, id, ctx, key))
    },
    signSeedKeypair(seed) {
      const kp = sodium.crypto_sign_seed_keypair(seed)
      return { publicKey: asBuffer(kp.publicKey), secretKey: asBuffer(kp.privateKey) }
    },
    signDetached(msg, secretKey) {
      return asBuffer(sodium.crypto_sign_detached(msg, secretKey))
    },
    verifyDetached(sig, msg, publicKey) {
      if (sig.length !== 64 || publicKey.length !== 32) return false
      try {
        return sodium.crypto_sign_verify_detached(sig, msg, publicKey)
      } catch {
        return false
      }
    },
    aeadEncrypt(pt, ad, nonce, key) {
      return asBuffer(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key))
    },
    aeadDecrypt(ct, ad, nonce, key) {
      try {
        return asBuffer(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key))
      } catch {
        return null
      }
    },
    boxSeal(msg, publicKey) {
      return asBuffer(sodium.crypto_box_seal(msg, publicKey))
    },
    boxSealOpen(ct, publicKey, secretKey) {
      try {
        return asBuffer(sodium.crypto_box_seal_open(ct, publicKey, secretKey))
      } catch {
        return null
      }
    },
    equal(a, b) {
      return a.length === b.length && sodium.memcmp(a, b)
    },
    randomFill(out) {
      // The platform's CSPRNG (what libsodium.js itself draws from), one call per 64 KiB, Web
      // Crypto's limit: libsodium.js's randombytes_buf calls into JavaScript for every 4 bytes,
      // which made the 2048 random bytes of each cover packet a third to two thirds of a cover
      // client's CPU (docs/BENCHMARKS.md, Browser).
      for (let off = 0; off < out.length; off += RANDOM_CHUNK)
        globalThis.crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + RANDOM_CHUNK)))
    }
  }
}
