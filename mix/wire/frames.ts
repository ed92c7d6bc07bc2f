/**
 * WebSocket frames (docs/PROTOCOL.md §17). Every binary message on every sealmix link has the same
 * length, 1 + packet length (2557 bytes in the network geometry): a kind byte, then a body padded
 * with zeros. Relay links carry only PACKET frames after the handshake, so every frame an observer
 * sees there is alike.
 */
import type { Geometry } from '../sphinx/geometry.ts'

export const FRAME = {
  PACKET: 0x01, // body: a Sphinx packet
  HELLO: 0x02, // body: link HELLO (mix/wire/link-auth.ts)
  AUTH: 0x03, // body: link AUTH signature (64)
  DELIVER: 0x04, // gateway -> ingress: u64 delivery id ‖ payload (U)
  ACK: 0x05, // ingress or client -> gateway: u64 delivery id
  PULL: 0x06, // client -> gateway: mailbox id (32)
  MAILBOX: 0x07 // gateway -> client: u64 delivery id ‖ SURB id (16) ‖ body (P); cover: random id and body
} as const
export type FrameKind = (typeof FRAME)[keyof typeof FRAME]
const KINDS = new Set<number>(Object.values(FRAME))

export function frameBytes(g: Geometry): number {
  return 1 + g.packetBytes
}

export function encodeFrame(g: Geometry, kind: FrameKind, ...parts: Uint8Array[]): Buffer {
  const f = Buffer.alloc(frameBytes(g))
  f[0] = kind
  let off = 1
  for (const p of parts) {
    f.set(p, off)
    off += p.length
  }
  if (off > f.length) throw new RangeError(`frame body of ${off - 1} bytes exceeds ${f.length - 1}`)
  return f
}

/**
 * A PACKET frame around a full-size packet. Every byte is written, so the buffer comes from Node's
 * pool without zero-filling (one small allocation per forwarded packet, none unpooled).
 */
export function packetFrame(g: Geometry, packet: Uint8Array): Buffer {
  if (packet.length !== g.packetBytes)
    throw new RangeError(`packet of ${packet.length} bytes, expected ${g.packetBytes}`)
  const f = Buffer.allocUnsafe(frameBytes(g))
  f[0] = FRAME.PACKET
  f.set(packet, 1)
  return f
}

export type ParsedFrame = { readonly kind: FrameKind; readonly body: Buffer } | null

/** A frame of the wrong length or an unknown kind is null (the caller drops it as malformed). */
export function parseFrame(g: Geometry, data: Buffer): ParsedFrame {
  if (data.length !== frameBytes(g) || !KINDS.has(data[0]!)) return null
  return { kind: data[0] as FrameKind, body: data.subarray(1) }
}
