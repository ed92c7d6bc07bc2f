/**
 * Inner content (docs/PROTOCOL.md §12): the plaintext under the envelope AEAD, padded to a bucket
 * (ISO/IEC 7816-4 style: 0x80 then zeros, at least one byte, as sodium_pad) so that servers see
 * only one of five sizes.
 */
import { MixError } from '../errors.ts'
import { fail, ok, parseWith, Reader, type Result, Writer } from './codec.ts'
import type { SealCode } from './errors.ts'

export const BUCKETS = [256, 1024, 4096, 16384, 65536] as const
const MAX_BUCKET = 65536

/** 9: a room send key shared between members (docs/PROTOCOL.md §15a), read by the SDK itself. */
export const CONTENT_TYPES = {
  olmPrekey: 1,
  olmMessage: 2,
  megolm: 3,
  mlsPrivateMessage: 4,
  plaintext: 8,
  roomKey: 9
} as const
export const CONTENT_HINTS = { default: 0, resendable: 1, implicit: 2 } as const
const TYPE_SET = new Set<number>(Object.values(CONTENT_TYPES))
const HINT_SET = new Set<number>(Object.values(CONTENT_HINTS))

export interface Inner {
  readonly contentType: number
  readonly contentHint: number
  /** The encoded SenderCert. */
  readonly senderCert: Uint8Array
  /** The encoded ServerCert, or empty when referenced by the SenderCert's signer_key_id. */
  readonly serverCert: Uint8Array
  /** Room id (or its hash); empty if none. */
  readonly groupId: Uint8Array
  readonly content: Uint8Array
}

/** Pad to the smallest bucket that is larger than the input. */
export function padToBucket(b: Uint8Array): Buffer {
  const size = BUCKETS.find(n => n > b.length)
  if (size === undefined)
    throw MixError.BAD_ARGUMENT(
      `inner content of ${b.length} bytes does not fit the largest bucket (${MAX_BUCKET - 1} bytes)`
    )
  const out = Buffer.alloc(size)
  out.set(b)
  out[b.length] = 0x80
  return out
}

/** Undo padToBucket; null unless the length is a bucket and the padding is well formed. */
export function unpadBucket(b: Uint8Array): Buffer | null {
  if (!(BUCKETS as readonly number[]).includes(b.length)) return null
  let i = b.length - 1
  while (i >= 0 && b[i] === 0) i--
  if (i < 0 || b[i] !== 0x80) return null
  return Buffer.from(b.subarray(0, i))
}

export function encodeInner(i: Inner): Buffer {
  if (!TYPE_SET.has(i.contentType))
    throw MixError.BAD_ARGUMENT(`contentType ${i.contentType} is not one of ${[...TYPE_SET].join(', ')}`)
  if (!HINT_SET.has(i.contentHint))
    throw MixError.BAD_ARGUMENT(`contentHint ${i.contentHint} is not one of ${[...HINT_SET].join(', ')}`)
  const raw = new Writer()
    .u8(i.contentType)
    .u8(i.contentHint)
    .lp16(i.senderCert)
    .lp16(i.serverCert)
    .lp16(i.groupId)
    .lp32(i.content)
    .done()
  return padToBucket(raw)
}

export function parseInner(padded: Uint8Array): Result<Inner, SealCode> {
  const raw = unpadBucket(padded)
  if (raw === null) return fail('SEAL_PADDING_INVALID')
  return parseWith('SEAL_INNER_MALFORMED', () => {
    const r = new Reader(raw)
    const contentType = r.u8()
    const contentHint = r.u8()
    if (!TYPE_SET.has(contentType) || !HINT_SET.has(contentHint)) return fail('SEAL_INNER_MALFORMED', 'type')
    const senderCert = r.lp16()
    const serverCert = r.lp16()
    const groupId = r.lp16()
    const content = r.lp32()
    r.end()
    return ok({ contentType, contentHint, senderCert, serverCert, groupId, content })
  })
}
