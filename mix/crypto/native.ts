/** sodium-native: the fast binding for relays (a native addon with prebuilt binaries). */
import sodium from 'sodium-native'
import type { SodiumBinding } from './binding.ts'

const NONCE8 = Buffer.alloc(8)

function buf(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}

export function createNativeBinding(): SodiumBinding {
  return {
    name: 'sodium-native',
    x25519(out, sk, pk) {
      try {
        sodium.crypto_scalarmult(buf(out), buf(sk), buf(pk))
        return true
      } catch {
        return false // libsodium refuses the all-zero output of a low-order point
      }
    },
    x25519Base(out, sk) {
      sodium.crypto_scalarmult_base(buf(out), buf(sk))
    },
    chacha20Xor(out, input, key) {
      sodium.crypto_stream_chacha20_xor(buf(out), buf(input), NONCE8, buf(key))
    },
    blake2b(out, msg, key) {
      if (key === undefined) sodium.crypto_generichash(buf(out), buf(msg))
      else sodium.crypto_generichash(buf(out), buf(msg), buf(key))
    },
    kdfDerive(out, id, ctx, key) {
      sodium.crypto_kdf_derive_from_key(buf(out), id, Buffer.from(ctx, 'latin1'), buf(key))
    },
    signSeedKeypair(seed) {
      const publicKey = Buffer.alloc(32)
      const secretKey = Buffer.alloc(64)
      sodium.crypto_sign_seed_keypair(publicKey, secretKey, buf(seed))
      return { publicKey, secretKey }
    },
    signDetached(msg, secretKey) {
      const sig = Buffer.alloc(64)
      sodium.crypto_sign_detached(sig, buf(msg), buf(secretKey))
      return sig
    },
    verifyDetached(sig, msg, publicKey) {
      if (sig.length !== 64 || publicKey.length !== 32) return false
      return sodium.crypto_sign_verify_detached(buf(sig), buf(msg), buf(publicKey))
    },
    aeadEncrypt(pt, ad, nonce, key) {
      const out = Buffer.alloc(pt.length + 16)
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, buf(pt), buf(ad), null, buf(nonce), buf(key))
      return out
    },
    aeadDecrypt(ct, ad, nonce, key) {
      if (ct.length < 16) return null
      const out = Buffer.alloc(ct.length - 16)
      try {
        sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, buf(ct), buf(ad), buf(nonce), buf(key))
        return out
      } catch {
        return null
      }
    },
    boxSeal(msg, publicKey) {
      const out = Buffer.alloc(msg.length + 48)
      sodium.crypto_box_seal(out, buf(msg), buf(publicKey))
      return out
    },
    boxSealOpen(ct, publicKey, secretKey) {
      if (ct.length < 48) return null
      const out = Buffer.alloc(ct.length - 48)
      return sodium.crypto_box_seal_open(out, buf(ct), buf(publicKey), buf(secretKey)) ? out : null
    },
    equal(a, b) {
      return a.length === b.length && sodium.sodium_memcmp(buf(a), buf(b))
    },
    randomFill(out) {
      sodium.randombytes_buf(buf(out))
    }
  }
}
