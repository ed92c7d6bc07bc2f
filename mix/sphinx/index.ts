/** Sphinx (KP-Sphinx-L v0): one object that binds a crypto suite, a geometry and a payload SPRP. */
import type { CryptoSuite } from '../crypto/suite.ts'
import type { Rng } from '../rng.ts'
import {
  type CreatedHeader,
  type CreatedSurb,
  createHeader,
  createPacket,
  createSurb,
  decryptSurbPayload,
  type PathHop,
  packetFromSurb,
  type SphinxContext
} from './create.ts'
import { type Geometry, NETWORK_GEOMETRY } from './geometry.ts'
import { createLioness, type Sprp } from './sprp.ts'
import { type UnwrapOptions, type UnwrapResult, unwrap } from './unwrap.ts'

export class Sphinx {
  readonly #ctx: SphinxContext

  constructor(crypto: CryptoSuite, geometry: Geometry = NETWORK_GEOMETRY, sprp: Sprp = createLioness(crypto)) {
    this.#ctx = { crypto, geometry, sprp }
  }

  get geometry(): Geometry {
    return this.#ctx.geometry
  }
  get crypto(): CryptoSuite {
    return this.#ctx.crypto
  }

  createHeader(path: readonly PathHop[], rng: Rng): CreatedHeader {
    return createHeader(this.#ctx, path, rng)
  }
  createPacket(path: readonly PathHop[], payload: Uint8Array, rng: Rng): Buffer {
    return createPacket(this.#ctx, path, payload, rng)
  }
  createSurb(path: readonly PathHop[], rng: Rng): CreatedSurb {
    return createSurb(this.#ctx, path, rng)
  }
  packetFromSurb(surb: Uint8Array, payload: Uint8Array): { packet: Buffer; firstHop: Buffer } {
    return packetFromSurb(this.#ctx, surb, payload)
  }
  decryptSurbPayload(body: Uint8Array, token: Buffer): Buffer | null {
    return decryptSurbPayload(this.#ctx, body, token)
  }
  unwrap(packet: Uint8Array, opts: UnwrapOptions): UnwrapResult {
    return unwrap(this.#ctx, packet, opts)
  }
}

export type { Command } from './commands.ts'
export { encodeBlock, encodeCommand, parseBlock } from './commands.ts'
export type { CreatedHeader, CreatedSurb, PathHop, SphinxContext } from './create.ts'
export * from './geometry.ts'
export { blindingFactor, deriveHopKeys } from './keys.ts'
export type { Sprp } from './sprp.ts'
export { createLioness, lionessDecryptRaw, lionessEncryptRaw, lionessKey } from './sprp.ts'
export type {
  DropDetail,
  HeaderResult,
  PeeledHeader,
  ReplayCheck,
  UnwrapDropReason,
  UnwrapOptions,
  UnwrapResult
} from './unwrap.ts'
export { peelHeader, writeNextHeader } from './unwrap.ts'
