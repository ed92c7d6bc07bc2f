/**
 * What travels inside the Sphinx payload between a client and an ingress (docs/PROTOCOL.md §16).
 *
 * Client → ingress: the U-byte payload is Seal(plaintext, ingress box key), so the exit relay sees
 * only which ingress. plaintext (U − 48 bytes) =
 *   u8 version (1) ‖ u8 kind (1 = submission fragment) ‖ u8 flags (bit 0: SURB attached)
 *   ‖ [SURB, when flagged] ‖ fragment (mix/route/fragment.ts) of the encoded SubmitRequest, filling the rest
 * Ingress → client, through the attached SURB (not sealed again: a SURB reply is readable only by
 * the SURB's creator): U bytes =
 *   u8 version (1) ‖ u8 kind (2 = ack) ‖ message id (16) ‖ u16 fragment index ‖ u8 status ‖ zeros
 * status: 0 received (more fragments expected), 1 delivered (the message was complete and handed
 * to the homeserver), 2 refused (any authorization failure: one status, like SEAL_AUTH_DENIED),
 * 3 try later (rate limit or reassembly full).
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { fail, ok, type Result } from '../envelope/codec.ts'
import type { X25519KeyPair } from '../envelope/envelope-v1.ts'
import type { SealCode } from '../envelope/errors.ts'
import type { Geometry } from '../sphinx/geometry.ts'
import { FRAGMENT_HEADER_BYTES } from './fragment.ts'

export const EXIT_PAYLOAD_VERSION = 1
export const KIND_SUBMISSION_FRAGMENT = 1
export const KIND_ACK = 2
const SEAL_OVERHEAD = 48
const HEADER = 3

export const ACK_STATUS = { received: 0, delivered: 1, refused: 2, tryLater: 3 } as const
export type AckStatus = (typeof ACK_STATUS)[keyof typeof ACK_STATUS]

/** Bytes of fragment (header included) that fit one payload for an ingress. */
export function fragmentBytes(g: Geometry, withSurb: boolean): number {
  return g.userPayloadBytes - SEAL_OVERHEAD - HEADER - (withSurb ? g.surbBytes : 0)
}

/** User bytes per packet once the fragment header is taken too. */
export function messageBytesPerPacket(g: Geometry, withSurb: boolean): number {
  return fragmentBytes(g, withSurb) - FRAGMENT_HEADER_BYTES
}

export function sealIngressPayload(
  c: CryptoSuite,
  g: Geometry,
  fragment: Uint8Array,
  surb: Uint8Array | null,
  ingressPk: Uint8Array
): Buffer {
  const room = fragmentBytes(g, surb !== null)
  if (fragment.length !== room) throw new RangeError(`fragment must be ${room} bytes (got ${fragment.length})`)
  if (surb !== null && surb.length !== g.surbBytes) throw new RangeError(`a SURB must be ${g.surbBytes} bytes`)
  const pt = Buffer.concat([
    Buffer.of(EXIT_PAYLOAD_VERSION, KIND_SUBMISSION_FRAGMENT, surb !== null ? 1 : 0),
    surb ?? Buffer.alloc(0),
    fragment
  ])
  return Buffer.from(c.boxSeal(pt, ingressPk))
}

export interface IngressPayload {
  readonly surb: Buffer | null
  readonly fragment: Buffer
}

/** At the ingress: open and split a delivered payload. Never throws on untrusted input. */
export function openIngressPayload(
  c: CryptoSuite,
  g: Geometry,
  payload: Uint8Array,
  ingress: X25519KeyPair
): Result<IngressPayload, SealCode> {
  if (payload.length !== g.userPayloadBytes) return fail('SEAL_SUBMIT_MALFORMED', 'length')
  const pt = c.boxSealOpen(payload, ingress.publicKey, ingress.secretKey)
  if (pt === null) return fail('SEAL_SUBMIT_UNOPENABLE')
  const b = Buffer.from(pt)
  if (b[0] !== EXIT_PAYLOAD_VERSION || b[1] !== KIND_SUBMISSION_FRAGMENT) return fail('SEAL_SUBMIT_UNSUPPORTED', 'kind')
  const flags = b[2]!
  if ((flags & ~1) !== 0) return fail('SEAL_SUBMIT_MALFORMED', 'flags')
  const withSurb = (flags & 1) === 1
  const surb = withSurb ? b.subarray(HEADER, HEADER + g.surbBytes) : null
  return ok({
    surb: surb === null ? null : Buffer.from(surb),
    fragment: Buffer.from(b.subarray(HEADER + (withSurb ? g.surbBytes : 0)))
  })
}

export interface Ack {
  readonly messageId: Buffer
  readonly index: number
  readonly status: AckStatus
}

export function encodeAck(g: Geometry, a: Ack): Buffer {
  if (a.messageId.length !== 16) throw new RangeError('messageId must be 16 bytes')
  const b = Buffer.alloc(g.userPayloadBytes)
  b[0] = EXIT_PAYLOAD_VERSION
  b[1] = KIND_ACK
  a.messageId.copy(b, 2)
  b.writeUInt16BE(a.index, 18)
  b[20] = a.status
  return b
}

/** At the client, after the SURB reply decrypted: parse strictly (zeros after the ack). */
export function parseAck(reply: Uint8Array): Result<Ack, SealCode> {
  if (reply.length < 21 || reply[0] !== EXIT_PAYLOAD_VERSION || reply[1] !== KIND_ACK)
    return fail('SEAL_SUBMIT_MALFORMED', 'ack header')
  const status = reply[20]!
  if (status > 3) return fail('SEAL_SUBMIT_MALFORMED', 'status')
  for (let i = 21; i < reply.length; i++) if (reply[i] !== 0) return fail('SEAL_SUBMIT_MALFORMED', 'padding')
  const v = Buffer.from(reply)
  return ok({ messageId: Buffer.from(v.subarray(2, 18)), index: v.readUInt16BE(18), status: status as AckStatus })
}
