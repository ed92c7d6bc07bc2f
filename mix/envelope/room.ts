/**
 * Sealed sender for Matrix rooms (docs/PROTOCOL.md §15a): one envelope v2 ciphertext with a key
 * wrap per member device, posted into the room by the ingress's application-service user.
 *
 * room batch = 0x22 ‖ E_pk (32) ‖ u16 n ‖ n × (label (8) ‖ C_i (32) ‖ AT_i (16)) ‖ ct
 *   label_i  = first 8 bytes of BLAKE2b-128("MXSS-v2 label" ‖ E_pk ‖ R_i), wraps sorted by label
 *
 * A wrap names its device only by a label that changes with every message, so the event stored
 * in room history holds no user id, device id or key; the order of the wraps says nothing about
 * who sealed them. The sender wraps for its own device too, so the list does not leave a gap
 * where the sender is.
 *
 * The room send key (Ed25519) authorizes a room submission at the ingress (scheme 2, `group`,
 * over the room id). It travels between members inside sealed messages as content type 9:
 * room key share = u8 version (1) ‖ lp16(room id) ‖ lp16(ingress server) ‖ u32 key_id ‖ seed (32)
 *                ‖ u8 flags (bit 0: block) ‖ lp16(proof: empty, or 64 bytes)
 * proof = Ed25519(previous room key, "MXSS-v1 room-key\0" ‖ lp16(room id) ‖ u32 key_id ‖ pk (32) ‖ u8 flags)
 * The same proof lets the ingress accept a rotation, and lets a member accept a shared key only
 * from someone who held the key it replaces.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import type { Rng } from '../rng.ts'
import { fail, ok, parseWith, Reader, type Result, Writer } from './codec.ts'
import { ENVELOPE_V2, type SealedV2, V2_OVERHEAD } from './envelope-v2.ts'
import type { SealCode } from './errors.ts'
import { CONTENT_TYPES } from './inner.ts'
import {
  type OutgoingMessage,
  openMessage,
  sealMessageV2,
  type TrustStore,
  type VerifiedMessage,
  type VerifyOptions
} from './recipient.ts'

/** The Matrix room event type under which an ingress posts a room batch. */
export const ROOM_EVENT_TYPE = 'org.sealmix.sealed.room.v1'

/**
 * The largest room batch: its event (base64, about 4/3 of it, plus the event's own fields) must
 * stay under Matrix's 65,536-byte limit on an event.
 */
export const MAX_ROOM_BATCH = 46_000
/** Bytes of a batch per member device. */
export const ROOM_WRAP_BYTES = 8 + 32 + 16
/**
 * The most member devices a batch carries: 512 wraps take 28,672 bytes, leaving room for an
 * inner padded to 16 KiB. Beyond it a sender gets CLIENT_ROOM_TOO_LARGE (docs/DECISIONS.md).
 */
export const MAX_ROOM_DEVICES = 512

const L_LABEL = Buffer.from('MXSS-v2 label', 'latin1')
const L_ROOM_KEY = Buffer.from('MXSS-v1 room-key\0', 'latin1')
const ROOM_KEY_SHARE_VERSION = 1
const FLAG_BLOCK = 1
const HEAD = 1 + 32 + 2

/** The Matrix room id grammar that sealmix accepts: `!opaque:server`, at most 255 characters. */
export function isRoomId(s: string): boolean {
  return s.length <= 255 && /^![^:\s]+:\S+$/.test(s)
}

/** The server part of a room id (the server that created the room). */
export function roomIdDomain(roomId: string): string | null {
  if (!isRoomId(roomId)) return null
  return roomId.slice(roomId.indexOf(':') + 1)
}

export function roomLabel(c: CryptoSuite, ePk: Uint8Array, recipientPk: Uint8Array): Buffer {
  const h = Buffer.alloc(16)
  c.blake2b(h, Buffer.concat([L_LABEL, ePk, recipientPk]))
  return h.subarray(0, 8)
}

export interface RoomWrap {
  readonly label: Buffer
  readonly c: Buffer
  readonly at: Buffer
}

export interface RoomBatch {
  readonly ePk: Buffer
  readonly wraps: readonly RoomWrap[]
  readonly ct: Buffer
}

/** Encode a v2 sealing as a room batch, wraps sorted by label (so their order says nothing). */
export function encodeRoomBatch(c: CryptoSuite, s: SealedV2): Buffer {
  if (s.copies.length > MAX_ROOM_DEVICES)
    throw MixError.BAD_ARGUMENT(`a room batch carries at most ${MAX_ROOM_DEVICES} devices`)
  const wraps = s.copies
    .map(cp => ({ label: roomLabel(c, s.ePk, cp.recipientPk), c: cp.c, at: cp.at }))
    .sort((a, b) => Buffer.compare(a.label, b.label))
  const w = new Writer().u8(ENVELOPE_V2).bytes(s.ePk).u16(wraps.length)
  for (const x of wraps) w.bytes(x.label).bytes(x.c).bytes(x.at)
  return w.bytes(s.ct).done()
}

/**
 * Strict: 1 ≤ n ≤ MAX_ROOM_DEVICES, labels strictly increasing, a ciphertext of at least a tag.
 * The wraps are views into `b` (no copies: a member parses every batch of its rooms and opens one wrap).
 */
export function parseRoomBatch(b: Uint8Array): Result<RoomBatch, SealCode> {
  const bad = (detail: string): Result<RoomBatch, SealCode> => fail('SEAL_ENVELOPE_MALFORMED', detail)
  if (b.length > MAX_ROOM_BATCH) return bad('size')
  if (b.length < HEAD) return bad('truncated')
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (buf[0] !== ENVELOPE_V2) return bad('version')
  const n = buf.readUInt16BE(33)
  if (n === 0 || n > MAX_ROOM_DEVICES) return bad('count')
  const ctAt = HEAD + n * ROOM_WRAP_BYTES
  if (buf.length < ctAt + 16) return bad('ciphertext')
  const wraps: RoomWrap[] = []
  for (let i = 0, at = HEAD; i < n; i++, at += ROOM_WRAP_BYTES) {
    const label = buf.subarray(at, at + 8)
    if (i > 0 && Buffer.compare(wraps[i - 1]!.label, label) >= 0) return bad('order')
    wraps.push({ label, c: buf.subarray(at + 8, at + 40), at: buf.subarray(at + 40, at + 56) })
  }
  return ok({ ePk: buf.subarray(1, 33), wraps, ct: buf.subarray(ctAt) })
}

/** The bytes of a batch that one device opens (an envelope v2 copy), or null when it has no wrap. */
export function roomCopyFor(c: CryptoSuite, b: RoomBatch, recipientPk: Uint8Array): Buffer | null {
  const label = roomLabel(c, b.ePk, recipientPk)
  const w = b.wraps.find(x => x.label.equals(label))
  if (w === undefined) return null
  return Buffer.concat([Buffer.of(ENVELOPE_V2), w.c, w.at, b.ePk, b.ct])
}

/** The bytes a room batch for `devices` devices and a padded inner of `innerBytes` takes. */
export function roomBatchBytes(devices: number, paddedInnerBytes: number): number {
  return HEAD + devices * ROOM_WRAP_BYTES + paddedInnerBytes + (V2_OVERHEAD - 1 - 32 - 16 - 32)
}

/**
 * Seal once for every member device (the sender's own included: the caller's list is used as
 * given, and it should hold the sender's device). The inner's group id is the room id, so that a
 * batch cannot be replayed into another room.
 */
export function sealRoomMessage(
  c: CryptoSuite,
  roomId: string,
  m: Omit<OutgoingMessage, 'groupId'>,
  sender: { publicKey: Uint8Array; secretKey: Uint8Array },
  devices: readonly Uint8Array[],
  rng: Rng
): Buffer {
  if (!isRoomId(roomId)) throw MixError.BAD_ARGUMENT('not a room id (!opaque:server)')
  if (devices.length === 0 || devices.length > MAX_ROOM_DEVICES)
    throw MixError.BAD_ARGUMENT(`a room message goes to 1 to ${MAX_ROOM_DEVICES} devices (got ${devices.length})`)
  return encodeRoomBatch(c, sealMessageV2(c, { ...m, groupId: Buffer.from(roomId, 'utf8') }, sender, devices, rng))
}

/**
 * Open this device's copy of a room batch and run every step of recipient verification, then
 * check that the message was sealed for this room. Membership of the certified sender is the
 * caller's check (it has the room's member list).
 */
export function openRoomMessage(
  c: CryptoSuite,
  roomId: string,
  batch: Uint8Array,
  recipient: { publicKey: Uint8Array; secretKey: Uint8Array },
  trust: TrustStore,
  o: VerifyOptions
): Result<{ copy: Buffer; message: VerifiedMessage }, SealCode> {
  const b = parseRoomBatch(batch)
  if (!b.ok) return b
  const copy = roomCopyFor(c, b.value, recipient.publicKey)
  if (copy === null) return fail('SEAL_ROOM_NOT_RECIPIENT')
  const r = openMessage(c, copy, recipient, trust, o)
  if (!r.ok) return r
  if (!r.value.groupId.equals(Buffer.from(roomId, 'utf8'))) return fail('SEAL_ROOM_MISMATCH')
  return ok({ copy, message: r.value })
}

export interface RoomKeyShare {
  readonly roomId: string
  /** The server whose ingress holds the key's public half and posts the room's messages. */
  readonly server: string
  readonly keyId: number
  readonly seed: Buffer
  readonly block: boolean
  /** Signed by the key this one replaces; empty for a room's first key. */
  readonly proof: Buffer
}

function rotationStatement(roomId: string, keyId: number, publicKey: Uint8Array, block: boolean): Buffer {
  return Buffer.concat([
    L_ROOM_KEY,
    new Writer()
      .lp16(roomId)
      .u32(keyId)
      .bytes(publicKey)
      .u8(block ? FLAG_BLOCK : 0)
      .done()
  ])
}

/** The previous key's signature over its successor: a rotation (or a block) by someone who held it. */
export function signRoomKeyRotation(
  c: CryptoSuite,
  previousSecretKey: Uint8Array,
  roomId: string,
  keyId: number,
  publicKey: Uint8Array,
  block: boolean
): Buffer {
  return Buffer.from(c.signDetached(rotationStatement(roomId, keyId, publicKey, block), previousSecretKey))
}

export function verifyRoomKeyRotation(
  c: CryptoSuite,
  previousPublicKey: Uint8Array,
  roomId: string,
  keyId: number,
  publicKey: Uint8Array,
  block: boolean,
  proof: Uint8Array
): boolean {
  return (
    proof.length === 64 &&
    c.verifyDetached(proof, rotationStatement(roomId, keyId, publicKey, block), previousPublicKey)
  )
}

export function encodeRoomKeyShare(s: RoomKeyShare): Buffer {
  if (s.seed.length !== 32) throw MixError.BAD_ARGUMENT('a room key seed is 32 bytes')
  if (s.proof.length !== 0 && s.proof.length !== 64) throw MixError.BAD_ARGUMENT('a rotation proof is 64 bytes')
  return new Writer()
    .u8(ROOM_KEY_SHARE_VERSION)
    .lp16(s.roomId)
    .lp16(s.server)
    .u32(s.keyId)
    .bytes(s.seed)
    .u8(s.block ? FLAG_BLOCK : 0)
    .lp16(s.proof)
    .done()
}

export function parseRoomKeyShare(b: Uint8Array): Result<RoomKeyShare, SealCode> {
  return parseWith('SEAL_INNER_MALFORMED', () => {
    const r = new Reader(b)
    if (r.u8() !== ROOM_KEY_SHARE_VERSION) return fail('SEAL_INNER_MALFORMED', 'room key version')
    const roomId = r.text16()
    const server = r.text16()
    const keyId = r.u32()
    const seed = r.bytes(32)
    const flags = r.u8()
    const proof = r.lp16()
    r.end()
    if (!isRoomId(roomId) || server.length === 0 || (flags & ~FLAG_BLOCK) !== 0)
      return fail('SEAL_INNER_MALFORMED', 'room key fields')
    if (proof.length !== 0 && proof.length !== 64) return fail('SEAL_INNER_MALFORMED', 'room key proof')
    return ok({ roomId, server, keyId, seed, block: (flags & FLAG_BLOCK) !== 0, proof })
  })
}

export const ROOM_KEY_CONTENT_TYPE = CONTENT_TYPES.roomKey
