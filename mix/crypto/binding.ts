/**
 * The libsodium surface sealmix uses, implemented once per binding (sodium-native, libsodium-wrappers,
 * and the browser binding over libsodium-wrappers and @noble), and the CryptoSuite built on it.
 * Every implementation must produce identical bytes; test/mix/crypto-bindings.test.ts checks it.
 * This module holds types only, so that the browser binding can name them without loading node:crypto.
 *
 * Hot-path calls write into caller-owned buffers to avoid allocation on the relay's packet path.
 */
export type BindingName = 'sodium-native' | 'libsodium-wrappers' | 'browser'

export interface SodiumBinding {
  readonly name: BindingName
  /** X25519(sk, pk) into out (32 B). Returns false on the all-zero (low-order) result; never throws for that. */
  x25519(out: Uint8Array, sk: Uint8Array, pk: Uint8Array): boolean
  /** X25519(sk, 9) into out. */
  x25519Base(out: Uint8Array, sk: Uint8Array): void
  /** out = in XOR ChaCha20 (DJB, 8-byte zero nonce, counter 0) keystream under key. out may equal in. */
  chacha20Xor(out: Uint8Array, input: Uint8Array, key: Uint8Array): void
  /** BLAKE2b with out.length bytes of output, optionally keyed (key 16..64 B). */
  blake2b(out: Uint8Array, msg: Uint8Array, key?: Uint8Array): void
  /** libsodium crypto_kdf_derive_from_key (BLAKE2b): subkey of out.length bytes. ctx is 8 ASCII bytes. */
  kdfDerive(out: Uint8Array, id: number, ctx: string, key: Uint8Array): void
  signSeedKeypair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array }
  signDetached(msg: Uint8Array, secretKey: Uint8Array): Uint8Array
  verifyDetached(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean
  /** XChaCha20-Poly1305-IETF; returns ciphertext ‖ 16-byte tag. */
  aeadEncrypt(pt: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array
  /** Returns null when authentication fails. */
  aeadDecrypt(ct: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null
  /** crypto_box_seal to an X25519 public key (48 bytes of overhead). */
  boxSeal(msg: Uint8Array, publicKey: Uint8Array): Uint8Array
  /** Returns null when the box does not open. */
  boxSealOpen(ct: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null
  /** Constant-time equality of two equal-length buffers (false for different lengths). */
  equal(a: Uint8Array, b: Uint8Array): boolean
  /** Fill with bytes from the OS CSPRNG. */
  randomFill(out: Uint8Array): void
}

/**
 * Every primitive the protocol core uses: a libsodium binding plus the primitives libsodium lacks
 * (AES-256-CTR, HMAC-SHA256, SHA-512/256, HKDF-SHA256). docs/PROTOCOL.md §1 lists where each comes from.
 */
export interface CryptoSuite extends SodiumBinding {
  /** HMAC-SHA256 over the concatenation of parts. */
  hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer
  /** HKDF-SHA256 Expand only: prk used directly as the PRK (RFC 5869 §2.3). */
  hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer
  /** Full HKDF-SHA256 (Extract then Expand). */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Buffer
  /** out = input XOR AES-256-CTR keystream (16-byte IV = initial counter block). */
  aes256CtrXor(out: Uint8Array, input: Uint8Array, key: Uint8Array, iv: Uint8Array): void
  /** SHA-512/256 (FIPS 180-4), 32 bytes. */
  sha512_256(msg: Uint8Array): Buffer
}
