/**
 * The 'browser' binding: libsodium-wrappers (WebAssembly) for the libsodium surface, and the audited
 * pure-JS @noble/hashes and @noble/ciphers for what the Node bindings take from node:crypto
 * (HMAC-SHA256, HKDF-SHA256, SHA-512/256, AES-256-CTR) and for the raw DJB ChaCha20. Its bytes equal
 * the Node bindings' (test/mix/crypto-bindings.test.ts).
 *
 * Nothing here, or in what it imports, may be a node: module or sodium-native: esbuild bundles it for
 * a browser (test/layering.test.ts checks it). The bundle provides the global Buffer (the `buffer`
 * package); only what that polyfill has is used. The libraries are imported when a suite is made,
 * since mix/index.ts re-exports this module and Node programs that never use it should not load them.
 */
import type { _HMAC } from '@noble/hashes/hmac.js'
import type { _SHA256 } from '@noble/hashes/sha2.js'
import type { CryptoSuite } from './binding.ts'
import { createSodiumWasmBinding } from './sodium-wasm.ts'

type HmacState = _HMAC<_SHA256>

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/**
 * Whether noble may write into out directly: same length, and out either is input or does not
 * overlap it (noble refuses some overlaps, and the other bindings accept any out that input fits in).
 */
function inPlaceOk(out: Uint8Array, input: Uint8Array): boolean {
  return (
    out.length === input.length &&
    (out.buffer !== input.buffer ||
      out.byteOffset === input.byteOffset ||
      out.byteOffset >= input.byteOffset + input.length ||
      input.byteOffset >= out.byteOffset + out.length)
  )
}

/** Make a browser crypto suite. Works in Node too (`loadCrypto('browser')`), for tests and measurements. */
export async function createBrowserCrypto(): Promise<CryptoSuite> {
  const [{ sha256, sha512_256 }, { hmac }, { hkdf }, { ctr }, { chacha20orig }] = await Promise.all([
    import('@noble/hashes/sha2.js'),
    import('@noble/hashes/hmac.js'),
    import('@noble/hashes/hkdf.js'),
    import('@noble/ciphers/aes.js'),
    import('@noble/ciphers/chacha.js')
  ])
  const nonce8 = new Uint8Array(8)
  const binding = await createSodiumWasmBinding('browser', (out, input, key) => {
    if (inPlaceOk(out, input)) chacha20orig(key, nonce8, input, out)
    else out.set(chacha20orig(key, nonce8, input))
  })

  // Scratch for hkdfExpand, which is synchronous: one T block and the counter byte.
  const t = new Uint8Array(32)
  const counter = new Uint8Array(1)
  // HKDF info labels are a few constants; their UTF-8 bytes are kept rather than encoded per call.
  const encoder = new TextEncoder()
  const labels = new Map<string, Uint8Array>()
  const labelBytes = (s: string): Uint8Array => {
    let b = labels.get(s)
    if (b === undefined) {
      if (labels.size >= 64) labels.clear()
      b = encoder.encode(s)
      labels.set(s, b)
    }
    return b
  }

  return {
    ...binding,
    hmacSha256(key, ...parts) {
      // noble's HMAC hashes a key longer than the 64-byte block first (RFC 2104), as node:crypto does.
      const h = hmac.create(sha256, key)
      for (const p of parts) h.update(p)
      const out = Buffer.allocUnsafe(32)
      h.digestInto(out)
      return out
    },
    hkdfExpand(prk, info, length) {
      // noble's own expand refuses a PRK shorter than 32 bytes, which the other bindings take.
      if (length > 255 * 32) throw new RangeError('HKDF-Expand length must be at most 8160 bytes')
      const out = Buffer.allocUnsafe(length)
      // T(i) = HMAC(prk, T(i-1) ‖ info ‖ i): the keyed inner and outer states are made once and
      // cloned per block, which saves two SHA-256 compressions a block.
      const keyed = hmac.create(sha256, prk)
      let work: HmacState | undefined
      for (let i = 1, off = 0; off < length; i++) {
        work = keyed._cloneInto(work)
        if (i > 1) work.update(t)
        counter[0] = i
        work.update(info).update(counter).digestInto(t)
        const n = Math.min(32, length - off)
        out.set(n === 32 ? t : t.subarray(0, n), off)
        off += n
      }
      keyed.destroy()
      t.fill(0)
      return out
    },
    hkdf(ikm, salt, info, length) {
      return asBuffer(hkdf(sha256, ikm, salt, labelBytes(info), length))
    },
    aes256CtrXor(out, input, key, iv) {
      const c = ctr(key, iv)
      // noble writes through 32-bit words, so it takes out only when 4-byte aligned.
      if ((out.byteOffset & 3) === 0 && inPlaceOk(out, input)) c.encrypt(input, out)
      else out.set(c.encrypt(input))
    },
    sha512_256(msg) {
      return asBuffer(sha512_256(msg))
    }
  }
}
