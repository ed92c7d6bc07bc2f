/**
 * loadCrypto: a CryptoSuite by binding name. The Node bindings are one libsodium binding plus the
 * node:crypto primitives libsodium lacks (AES-256-CTR, HMAC-SHA256, SHA-512/256, HKDF-SHA256); the
 * browser binding (./browser.ts) takes those from @noble instead. docs/PROTOCOL.md §1 lists where
 * each comes from.
 */
import { createCipheriv, hash, hkdfSync } from 'node:crypto'
import { MixError } from '../errors.ts'
import type { BindingName, CryptoSuite, SodiumBinding } from './binding.ts'

export type { CryptoSuite } from './binding.ts'

/**
 * HMAC-SHA256 (RFC 2104) from two one-shot hashes. node:crypto's createHmac allocates a native
 * object per call whose weak handle makes every young-generation GC slower; the relay computes
 * seven HMACs per packet, so this keeps its worker threads' GC pauses short. Checked against
 * Katzenpost's HMAC vectors and the KDF vectors.
 */
function hmac(key: Uint8Array, data: Uint8Array): Buffer {
  const k = key.length > 64 ? hash('sha256', key, 'buffer') : key
  const inner = Buffer.allocUnsafe(64 + data.length)
  const outer = Buffer.allocUnsafe(64 + 32)
  for (let i = 0; i < 64; i++) {
    const b = i < k.length ? k[i]! : 0
    inner[i] = b ^ 0x36
    outer[i] = b ^ 0x5c
  }
  inner.set(data, 64)
  outer.set(hash('sha256', inner, 'buffer'), 64)
  return hash('sha256', outer, 'buffer')
}

function withNodePrimitives(b: SodiumBinding): CryptoSuite {
  return {
    ...b,
    hmacSha256(key, ...parts) {
      return hmac(key, parts.length === 1 ? parts[0]! : Buffer.concat(parts))
    },
    hkdfExpand(prk, info, length) {
      if (length > 255 * 32) throw new RangeError('HKDF-Expand length must be at most 8160 bytes')
      const out = Buffer.allocUnsafe(length)
      // T(i) = HMAC(prk, T(i-1) ‖ info ‖ i), built in one buffer.
      const msg = Buffer.allocUnsafe(32 + info.length + 1)
      msg.set(info, 32)
      for (let i = 1, off = 0; off < length; i++) {
        msg[msg.length - 1] = i
        const t = hmac(prk, i === 1 ? msg.subarray(32) : msg)
        t.copy(msg, 0)
        off += t.copy(out, off)
      }
      return out
    },
    hkdf(ikm, salt, info, length) {
      return Buffer.from(hkdfSync('sha256', ikm, salt, info, length))
    },
    aes256CtrXor(out, input, key, iv) {
      const c = createCipheriv('aes-256-ctr', key, iv)
      out.set(c.update(input))
    },
    sha512_256(msg) {
      return hash('sha512-256', msg, 'buffer')
    }
  }
}

const cache = new Map<BindingName, Promise<CryptoSuite>>()

async function load(name: BindingName): Promise<CryptoSuite> {
  try {
    if (name === 'sodium-native') {
      const { createNativeBinding } = await import('./native.ts')
      return withNodePrimitives(createNativeBinding())
    }
    if (name === 'libsodium-wrappers') {
      const { createWasmBinding } = await import('./wasm.ts')
      return withNodePrimitives(await createWasmBinding())
    }
    if (name === 'browser') {
      const { createBrowserCrypto } = await import('./browser.ts')
      return await createBrowserCrypto()
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
export async function loadCrypto(binding: BindingName | 'auto' = 'auto'): Promise<CryptoSuite> {
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

export const BINDINGS: readonly BindingName[] = ['sodium-native', 'libsodium-wrappers', 'browser']
