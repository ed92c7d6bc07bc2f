/**
 * libsodium-wrappers: the portable (WebAssembly) binding. Its standard build has no raw ChaCha20,
 * so the DJB ChaCha20 keystream comes from node:crypto ('chacha20' with a 16-byte IV of
 * counter 0 ‖ nonce 0, which equals the 8-byte-nonce variant for the first 2^32 blocks).
 */

import { createCipheriv } from 'node:crypto'
import sodium from 'libsodium-wrappers'
import type { SodiumBinding } from './binding.ts'

const IV16 = Buffer.alloc(16)

export async function createWasmBinding(): Promise<SodiumBinding> {
  await sodium.ready
  return {
    name: 'libsodium-wrappers',
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
    chacha20Xor(out, input, key) {
      const c = createCipheriv('chacha20', key, IV16)
      const n = c.update(input)
      out.set(n)
    },
    blake2b(out, msg, key) {
      out.set(sodium.crypto_generichash(out.length, msg, key ?? null))
    },
    kdfDerive(out, id, ctx, key) {
      out.set(sodium.crypto_kdf_derive_from_key(out.length, id, ctx, key))
    },
    signSeedKeypair(seed) {
      const kp = sodium.crypto_sign_seed_keypair(seed)
      return { publicKey: Buffer.from(kp.publicKey), secretKey: Buffer.from(kp.privateKey) }
    },
    signDetached(msg, secretKey) {
      return Buffer.from(sodium.crypto_sign_detached(msg, secretKey))
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
      return Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, null, nonce, key))
    },
    aeadDecrypt(ct, ad, nonce, key) {
      try {
        return Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key))
      } catch {
        return null
      }
    },
    boxSeal(msg, publicKey) {
      return Buffer.from(sodium.crypto_box_seal(msg, publicKey))
    },
    boxSealOpen(ct, publicKey, secretKey) {
      try {
        return Buffer.from(sodium.crypto_box_seal_open(ct, publicKey, secretKey))
      } catch {
        return null
      }
    },
    equal(a, b) {
      return a.length === b.length && sodium.memcmp(a, b)
    },
    randomFill(out) {
      out.set(sodium.randombytes_buf(out.length))
    }
  }
}
