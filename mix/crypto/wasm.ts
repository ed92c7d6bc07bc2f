/**
 * libsodium-wrappers: the portable (WebAssembly) binding for Node. The DJB ChaCha20 keystream comes
 * from node:crypto ('chacha20' with a 16-byte IV of counter 0 ‖ nonce 0, which equals the
 * 8-byte-nonce variant for the first 2^32 blocks).
 */

import { createCipheriv } from 'node:crypto'
import type { SodiumBinding } from './binding.ts'
import { createSodiumWasmBinding } from './sodium-wasm.ts'

const IV16 = Buffer.alloc(16)

export function createWasmBinding(): Promise<SodiumBinding> {
  return createSodiumWasmBinding('libsodium-wrappers', (out, input, key) => {
    out.set(createCipheriv('chacha20', key, IV16).update(input))
  })
}
