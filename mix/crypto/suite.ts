/**
 * CryptoSuite: every primitive the protocol core uses, over one libsodium binding plus the
 * node:crypto primitives libsodium lacks (AES-256-CTR, HMAC-SHA256, SHA-512/256, HKDF-SHA256).
 * PACKET-FORMAT.md §2 lists where each comes from; docs/PROTOCOL.md §1 repeats it.
 */
import { createCipheriv, createHash, createHmac, hkdfSync } from 'node:crypto'
import type { BindingName, SodiumBinding } from './binding.ts'
import { MixError } from '../errors.ts'

export interface CryptoSuite extends SodiumBinding {
  /** HMAC-SHA256 over the concatenation of parts. */
  hmacSha256 (key: Uint8Array, ...parts: Uint8Array[]): Buffer
  /** HKDF-SHA256 Expand only: prk used directly as the PRK (RFC 5869 §2.3). */
  hkdfExpand (prk: Uint8Array, info: Uint8Array, length: number): Buffer
  /** Full HKDF-SHA256 (Extract then Expand). */
  hkdf (ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Buffer
  /** out = input XOR AES-256-CTR keystream (16-byte IV = initial counter block). */
  aes256CtrXor (out: Uint8Array, input: Uint8Array, key: Uint8Array, iv: Uint8Array): void
  /** SHA-512/256 (FIPS 180-4), 32 bytes. */
  sha512_256 (msg: Uint8Array): Buffer
}

function withNodePrimitives (b: SodiumBinding): CryptoSuite {
  return {
    ...b,
    hmacSha256 (key, ...parts) {
      const h = createHmac('sha256', key)
      for (const p of parts) h.update(p)
      return h.digest()
    },
    hkdfExpand (prk, info, length) {
      const out = Buffer.alloc(length)
      let prev: Buffer = Buffer.alloc(0)
      const ctr = Buffer.alloc(1)
      for (let i = 1, off = 0; off < length; i++) {
        ctr[0] = i
        prev = createHmac('sha256', prk).update(prev).update(info).update(ctr).digest()
        off += prev.copy(out, off)
      }
      return out
    },
    hkdf (ikm, salt, info, length) {
      return Buffer.from(hkdfSync('sha256', ikm, salt, info, length))
    },
    aes256CtrXor (out, input, key, iv) {
      const c = createCipheriv('aes-256-ctr', key, iv)
      out.set(c.update(input))
    },
    sha512_256 (msg) {
      return createHash('sha512-256').update(msg).digest()
    }
  }
}

const cache = new Map<BindingName, Promise<CryptoSuite>>()

async function load (name: BindingName): Promise<CryptoSuite> {
  try {
    if (name === 'sodium-native') {
      const { createNativeBinding } = await import('./native.ts')
      return withNodePrimitives(createNativeBinding())
    }
    if (name === 'libsodium-wrappers') {
      const { createWasmBinding } = await import('./wasm.ts')
      return withNodePrimitives(await createWasmBinding())
    }
    throw new TypeError(`unknown binding '${String(name)}' (expected one of ${BINDINGS.join(', ')})`)
  } catch (err) {
    throw MixError.NO_BINDING(name, err)
  }
}

/**
 * Load a crypto suite. `'auto'` (the default) prefers the native binding and falls back to the
 * portable one when the addon cannot load (for example on a platform without a prebuild).
 * Tests and benchmarks pass a name to pin one binding.
 */
export async function loadCrypto (binding: BindingName | 'auto' = 'auto'): Promise<CryptoSuite> {
  if (binding === 'auto') {
    try {
      return await loadCrypto('sodium-native')
    } catch {
      return await loadCrypto('libsodium-wrappers')
    }
  }
  let p = cache.get(binding)
  if (p === undefined) {
    p = load(binding)
    cache.set(binding, p)
    p.catch(() => cache.delete(binding))
  }
  return await p
}

export const BINDINGS: readonly BindingName[] = ['sodium-native', 'libsodium-wrappers']
