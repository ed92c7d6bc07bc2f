/**
 * Packet and SURB creation (docs/PROTOCOL.md §5 and §9): the client side.
 * Bad arguments throw MixError; these inputs come from our own caller, never from the network.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import type { Rng } from '../rng.ts'
import { type Command, encodeBlock } from './commands.ts'
import {
  type Geometry,
  NODE_ID_BYTES,
  PAYLOAD_TAG_BYTES,
  PER_HOP_ROUTING_INFO_BYTES,
  SPRP_IV_BYTES,
  SPRP_KEY_BYTES
} from './geometry.ts'
import { blindingFactor, deriveHopKeys } from './keys.ts'
import type { Sprp } from './sprp.ts'

export interface PathHop {
  /** Node ID (32 bytes): BLAKE2b-256 of the relay's identity key in sealmix. */
  readonly id: Uint8Array
  /** The hop's X25519 mix public key for the packet's epoch. */
  readonly publicKey: Uint8Array
  /** Commands for this hop, without next_node_hop (header creation adds it). */
  readonly commands: readonly Command[]
}

export interface SphinxContext {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  readonly sprp: Sprp
}

export interface SprpKey {
  readonly key: Buffer
  readonly iv: Buffer
}

export interface CreatedHeader {
  readonly header: Buffer
  /** The per-hop SPRP key and IV, in path order. */
  readonly sprpKeys: SprpKey[]
}

const AD = Buffer.from([0x00, 0x00])

function checkPath(ctx: SphinxContext, path: readonly PathHop[]): void {
  if (!Array.isArray(path) || path.length === 0) throw MixError.BAD_ARGUMENT('path must have at least one hop')
  if (path.length > ctx.geometry.hops) throw MixError.PATH_TOO_LONG(path.length, ctx.geometry.hops)
  for (const [i, h] of path.entries()) {
    if (!(h.id instanceof Uint8Array) || h.id.length !== NODE_ID_BYTES)
      throw MixError.BAD_ARGUMENT(`path[${i}].id must be 32 bytes`)
    if (!(h.publicKey instanceof Uint8Array) || h.publicKey.length !== 32)
      throw MixError.BAD_ARGUMENT(`path[${i}].publicKey must be 32 bytes`)
  }
}

export function createHeader(ctx: SphinxContext, path: readonly PathHop[], rng: Rng): CreatedHeader {
  checkPath(ctx, path)
  const { crypto, geometry: g } = ctx
  const n = path.length
  const r = g.hops
  const H = PER_HOP_ROUTING_INFO_BYTES

  // 1. Keys: α_0 = X25519(x, 9); ss_i = X25519(x, pk_i) blinded by b_0 … b_{i-1}.
  const x = rng.bytes(32)
  const alphas: Buffer[] = []
  const keys = []
  const blinds: Buffer[] = []
  const alpha0 = Buffer.alloc(32)
  crypto.x25519Base(alpha0, x)
  alphas.push(alpha0)
  for (let i = 0; i < n; i++) {
    const s = Buffer.alloc(32)
    if (!crypto.x25519(s, x, (path[i] as PathHop).publicKey)) throw MixError.LOW_ORDER_KEY()
    for (let j = 0; j < i; j++) {
      if (!crypto.x25519(s, blinds[j] as Buffer, s)) throw MixError.LOW_ORDER_KEY()
    }
    const k = deriveHopKeys(crypto, s)
    s.fill(0)
    keys.push(k)
    blinds.push(blindingFactor(crypto, k.blindingSeed))
    if (i > 0) {
      const a = Buffer.alloc(32)
      if (!crypto.x25519(a, blinds[i - 1] as Buffer, alphas[i - 1] as Buffer)) throw MixError.LOW_ORDER_KEY()
      alphas.push(a)
    }
  }
  x.fill(0)

  // 2. Keystreams and filler.
  const streams: Buffer[] = []
  const pads: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const k = keys[i]!
    const ks = Buffer.alloc(H * (r + 1))
    crypto.aes256CtrXor(ks, ks, k.headerKey, k.headerIv)
    const cut = H * (r - i)
    streams.push(ks.subarray(0, cut))
    const pad = ks.subarray(cut)
    if (i > 0) {
      const prev = pads[i - 1]!
      for (let j = 0; j < prev.length; j++) pad[j] = (pad[j] as number) ^ (prev[j] as number)
    }
    pads.push(pad)
  }

  // 3. Routing info, last hop first; unused hop slots are random.
  let beta: Buffer = rng.bytes(H * (r - n))
  let mac: Buffer = Buffer.alloc(0)
  for (let i = n - 1; i >= 0; i--) {
    const next: Command | null = i < n - 1 ? { type: 'next_node_hop', id: (path[i + 1] as PathHop).id, mac } : null
    const block = encodeBlock((path[i] as PathHop).commands, next)
    beta = Buffer.concat([block, beta])
    const st = streams[i]!
    for (let j = 0; j < beta.length; j++) beta[j] = (beta[j] as number) ^ (st[j] as number)
    mac =
      i > 0
        ? crypto.hmacSha256(keys[i]!.headerMac, AD, alphas[i]!, beta, pads[i - 1]!)
        : crypto.hmacSha256(keys[i]!.headerMac, AD, alphas[i]!, beta)
  }

  const header = Buffer.concat([AD, alpha0, beta, mac])
  const sprpKeys = keys.map(k => ({ key: Buffer.from(k.payloadKey), iv: Buffer.from(k.headerIv) }))
  for (const k of keys) {
    k.headerMac.fill(0)
    k.headerKey.fill(0)
    k.payloadKey.fill(0)
    k.blindingSeed.fill(0)
  }
  for (const b of blinds) b.fill(0)
  return { header, sprpKeys }
}

/** A forward packet: header ‖ SPRP-encrypted (0^32 ‖ payload). payload must be exactly U bytes. */
export function createPacket(ctx: SphinxContext, path: readonly PathHop[], payload: Uint8Array, rng: Rng): Buffer {
  const g = ctx.geometry
  if (!(payload instanceof Uint8Array) || payload.length !== g.userPayloadBytes) {
    throw MixError.PAYLOAD_SIZE(payload?.length ?? -1, g.userPayloadBytes)
  }
  const { header, sprpKeys } = createHeader(ctx, path, rng)
  const packet = Buffer.alloc(g.packetBytes)
  header.copy(packet)
  packet.set(payload, g.headerBytes + PAYLOAD_TAG_BYTES)
  const body = packet.subarray(g.headerBytes)
  for (let i = sprpKeys.length - 1; i >= 0; i--) {
    const k = sprpKeys[i]!
    ctx.sprp.encrypt(k.key, k.iv, body)
    k.key.fill(0)
  }
  return packet
}

export interface CreatedSurb {
  /** header ‖ first-hop node ID ‖ SPRP key (48) ‖ SPRP IV (16): give to the replier. */
  readonly surb: Buffer
  /** Decryption token, 64·(n+1) bytes: keep secret, use once. */
  readonly token: Buffer
  readonly firstHop: Buffer
}

/** A single-use reply block for the given reply path (its last hop carries recipient + surb_reply). */
export function createSurb(ctx: SphinxContext, path: readonly PathHop[], rng: Rng): CreatedSurb {
  const keyMaterial = rng.bytes(SPRP_KEY_BYTES + SPRP_IV_BYTES)
  const { header, sprpKeys } = createHeader(ctx, path, rng)
  const parts: Buffer[] = []
  for (let i = sprpKeys.length - 1; i >= 0; i--) {
    parts.push(sprpKeys[i]!.key, sprpKeys[i]!.iv)
  }
  parts.push(keyMaterial)
  const token = Buffer.concat(parts)
  for (const k of sprpKeys) k.key.fill(0)
  const firstHop = Buffer.from((path[0] as PathHop).id)
  const surb = Buffer.concat([header, firstHop, keyMaterial])
  keyMaterial.fill(0)
  return { surb, token, firstHop }
}

/** The replier's side: a packet from a SURB and a U-byte payload, plus the first hop to send it to. */
export function packetFromSurb(
  ctx: SphinxContext,
  surb: Uint8Array,
  payload: Uint8Array
): { packet: Buffer; firstHop: Buffer } {
  const g = ctx.geometry
  if (!(surb instanceof Uint8Array) || surb.length !== g.surbBytes)
    throw MixError.BAD_ARGUMENT(`a SURB must be ${g.surbBytes} bytes`)
  if (!(payload instanceof Uint8Array) || payload.length !== g.userPayloadBytes) {
    throw MixError.PAYLOAD_SIZE(payload?.length ?? -1, g.userPayloadBytes)
  }
  const idOff = g.headerBytes
  const keyOff = idOff + NODE_ID_BYTES
  const ivOff = keyOff + SPRP_KEY_BYTES
  const packet = Buffer.alloc(g.packetBytes)
  packet.set(surb.subarray(0, g.headerBytes))
  packet.set(payload, g.headerBytes + PAYLOAD_TAG_BYTES)
  ctx.sprp.encrypt(
    surb.subarray(keyOff, ivOff),
    surb.subarray(ivOff, ivOff + SPRP_IV_BYTES),
    packet.subarray(g.headerBytes)
  )
  return { packet, firstHop: Buffer.from(surb.subarray(idOff, keyOff)) }
}

/**
 * The SURB creator's side: undo every hop's decrypt, then the replier's encrypt, and check the
 * zero tag in constant time. Returns the U-byte reply, or null when the token does not fit or the
 * tag is not zero (tampering, or the wrong token). Wipes the token.
 */
export function decryptSurbPayload(ctx: SphinxContext, body: Uint8Array, token: Buffer): Buffer | null {
  const g = ctx.geometry
  const per = g.surbKeyBytes
  if (body.length !== g.bodyBytes || token.length % per !== 0 || token.length < 2 * per) return null
  const b = Buffer.from(body)
  const entries = token.length / per
  for (let i = 0; i < entries; i++) {
    const key = token.subarray(i * per, i * per + SPRP_KEY_BYTES)
    const iv = token.subarray(i * per + SPRP_KEY_BYTES, (i + 1) * per)
    if (i === entries - 1) ctx.sprp.decrypt(key, iv, b)
    else ctx.sprp.encrypt(key, iv, b)
  }
  token.fill(0)
  let acc = 0
  for (let i = 0; i < PAYLOAD_TAG_BYTES; i++) acc |= b[i] as number
  return acc === 0 ? b.subarray(PAYLOAD_TAG_BYTES) : null
}
