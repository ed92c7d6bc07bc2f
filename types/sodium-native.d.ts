// The subset of sodium-native 5 that mix/crypto/native.ts calls (the published @types are for v2).
declare module 'sodium-native' {
  const sodium: {
    crypto_scalarmult(q: Buffer, n: Buffer, p: Buffer): void
    crypto_scalarmult_base(q: Buffer, n: Buffer): void
    crypto_stream_chacha20_xor(c: Buffer, m: Buffer, n: Buffer, k: Buffer): void
    crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void
    crypto_kdf_derive_from_key(subkey: Buffer, subkeyId: number, ctx: Buffer, key: Buffer): void
    crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void
    crypto_sign_detached(sig: Buffer, m: Buffer, sk: Buffer): void
    crypto_sign_verify_detached(sig: Buffer, m: Buffer, pk: Buffer): boolean
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Buffer,
      m: Buffer,
      ad: Buffer | null,
      nsec: null,
      npub: Buffer,
      k: Buffer
    ): number
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      m: Buffer,
      nsec: null,
      c: Buffer,
      ad: Buffer | null,
      npub: Buffer,
      k: Buffer
    ): number
    crypto_box_seal(c: Buffer, m: Buffer, pk: Buffer): void
    crypto_box_seal_open(m: Buffer, c: Buffer, pk: Buffer, sk: Buffer): boolean
    sodium_memcmp(a: Buffer, b: Buffer): boolean
    randombytes_buf(b: Buffer): void
  }
  export default sodium
}
