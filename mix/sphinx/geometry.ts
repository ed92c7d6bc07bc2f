/**
 * Sphinx geometry (docs/PROTOCOL.md §2): hop capacity r and user payload length U fix every size.
 * X25519 NIKE: AD 2, α 32, γ 32, per-hop routing info 82, payload tag 32.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'

export const AD_BYTES = 2
export const GROUP_ELEMENT_BYTES = 32
export const MAC_BYTES = 32
export const NODE_ID_BYTES = 32
export const RECIPIENT_ID_BYTES = 32
export const SURB_ID_BYTES = 16
export const PAYLOAD_TAG_BYTES = 32
export const SPRP_KEY_BYTES = 48
export const SPRP_IV_BYTES = 16
/** NextNodeHop (65) + SURBReply (17): the largest command block a hop needs. */
export const PER_HOP_ROUTING_INFO_BYTES = 82
export const MAX_HOPS = 16

export interface GeometryParams {
  /** r: hop capacity of the header (NrHops). */
  readonly hops: number
  /** U: user payload bytes per packet. */
  readonly userPayloadBytes: number
}

export interface Geometry extends GeometryParams {
  readonly routingInfoBytes: number
  readonly headerBytes: number
  readonly macOffset: number
  /** P = 32 + U, the SPRP-encrypted body. */
  readonly bodyBytes: number
  readonly packetBytes: number
  readonly surbBytes: number
  /** Bytes of SURB key material per hop in a decryption token (key 48 ‖ IV 16). */
  readonly surbKeyBytes: number
}

export function makeGeometry(p: GeometryParams): Geometry {
  if (!Number.isInteger(p.hops) || p.hops < 1 || p.hops > MAX_HOPS) {
    throw MixError.BAD_ARGUMENT(`geometry.hops must be an integer in 1..${MAX_HOPS} (got ${String(p.hops)})`)
  }
  if (!Number.isInteger(p.userPayloadBytes) || p.userPayloadBytes < 1 || p.userPayloadBytes > 65536) {
    throw MixError.BAD_ARGUMENT(
      `geometry.userPayloadBytes must be an integer in 1..65536 (got ${String(p.userPayloadBytes)})`
    )
  }
  const routingInfoBytes = PER_HOP_ROUTING_INFO_BYTES * p.hops
  const headerBytes = AD_BYTES + GROUP_ELEMENT_BYTES + routingInfoBytes + MAC_BYTES
  const bodyBytes = PAYLOAD_TAG_BYTES + p.userPayloadBytes
  return Object.freeze({
    hops: p.hops,
    userPayloadBytes: p.userPayloadBytes,
    routingInfoBytes,
    headerBytes,
    macOffset: AD_BYTES + GROUP_ELEMENT_BYTES + routingInfoBytes,
    bodyBytes,
    packetBytes: headerBytes + bodyBytes,
    surbBytes: headerBytes + NODE_ID_BYTES + SPRP_KEY_BYTES + SPRP_IV_BYTES,
    surbKeyBytes: SPRP_KEY_BYTES + SPRP_IV_BYTES
  })
}

/** The network geometry (docs/PROTOCOL.md §16): entry gateway, three mix layers, exit gateway; 2048-byte payloads. */
export const NETWORK_GEOMETRY: Geometry = makeGeometry({ hops: 5, userPayloadBytes: 2048 })

/**
 * Canonical bytes of a geometry, hashed into the directory document:
 * "sealmix-geometry-v0\0" ‖ "KP-Sphinx-L v0/x25519/lioness-chacha20-blake2b\0" ‖ u8 r ‖ u32 U.
 */
export function encodeGeometry(g: GeometryParams): Buffer {
  const tail = Buffer.alloc(5)
  tail.writeUInt8(g.hops, 0)
  tail.writeUInt32BE(g.userPayloadBytes, 1)
  return Buffer.concat([
    Buffer.from('sealmix-geometry-v0\0KP-Sphinx-L v0/x25519/lioness-chacha20-blake2b\0', 'latin1'),
    tail
  ])
}

/** BLAKE2b-256 of encodeGeometry: the geometry's name in the directory document. */
export function geometryHash(c: CryptoSuite, g: GeometryParams): Buffer {
  const h = Buffer.alloc(32)
  c.blake2b(h, encodeGeometry(g))
  return h
}
