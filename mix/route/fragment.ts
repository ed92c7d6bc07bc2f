/**
 * Fragmentation of a message into fixed-size pieces and bounded reassembly (docs/PROTOCOL.md §16).
 *
 * fragment = u8 version (1) ‖ u8[16] message_id ‖ u16 index ‖ u16 count ‖ u16 chunk_len ‖ chunk ‖ zeros
 * Every fragment is exactly `fragmentBytes` long. The reassembler keeps at most `maxMessages`
 * partial messages and `maxBytes` of chunks; a fragment that would exceed either is refused (the
 * sender re-sends after a missing ack), partial messages expire after `timeoutMs`, and completed
 * message ids are remembered for `timeoutMs` so that a re-sent fragment is a duplicate, not a new
 * message. Time is passed in.
 */

import { fail, ok, type Result } from '../envelope/codec.ts'
import type { SealCode } from '../envelope/errors.ts'
import { MixError } from '../errors.ts'

export const FRAGMENT_VERSION = 1
export const FRAGMENT_HEADER_BYTES = 1 + 16 + 2 + 2 + 2
export const MAX_FRAGMENTS = 4096

export interface Fragment {
  readonly messageId: Buffer
  readonly index: number
  readonly count: number
  readonly chunk: Buffer
}

/** Split a message into `fragmentBytes`-sized fragments under a 16-byte message id. */
export function fragmentMessage(message: Uint8Array, messageId: Uint8Array, fragmentBytes: number): Buffer[] {
  if (messageId.length !== 16) throw MixError.BAD_ARGUMENT('messageId must be 16 bytes')
  const room = fragmentBytes - FRAGMENT_HEADER_BYTES
  if (!Number.isInteger(fragmentBytes) || room < 1)
    throw MixError.BAD_ARGUMENT(`fragmentBytes must exceed ${FRAGMENT_HEADER_BYTES}`)
  const count = Math.max(1, Math.ceil(message.length / room))
  if (count > MAX_FRAGMENTS)
    throw MixError.BAD_ARGUMENT(
      `a message of ${message.length} bytes needs ${count} fragments; the limit is ${MAX_FRAGMENTS}`
    )
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const chunk = message.subarray(i * room, Math.min(message.length, (i + 1) * room))
    const f = Buffer.alloc(fragmentBytes)
    f[0] = FRAGMENT_VERSION
    f.set(messageId, 1)
    f.writeUInt16BE(i, 17)
    f.writeUInt16BE(count, 19)
    f.writeUInt16BE(chunk.length, 21)
    f.set(chunk, FRAGMENT_HEADER_BYTES)
    out.push(f)
  }
  return out
}

export function parseFragment(b: Uint8Array): Result<Fragment, SealCode> {
  if (b.length < FRAGMENT_HEADER_BYTES + 1 || b[0] !== FRAGMENT_VERSION)
    return fail('SEAL_FRAGMENT_MALFORMED', 'header')
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const index = v.readUInt16BE(17)
  const count = v.readUInt16BE(19)
  const len = v.readUInt16BE(21)
  if (count === 0 || count > MAX_FRAGMENTS || index >= count) return fail('SEAL_FRAGMENT_MALFORMED', 'index')
  if (FRAGMENT_HEADER_BYTES + len > b.length) return fail('SEAL_FRAGMENT_MALFORMED', 'length')
  for (let i = FRAGMENT_HEADER_BYTES + len; i < b.length; i++)
    if (b[i] !== 0) return fail('SEAL_FRAGMENT_MALFORMED', 'padding')
  return ok({
    messageId: Buffer.from(v.subarray(1, 17)),
    index,
    count,
    chunk: Buffer.from(v.subarray(FRAGMENT_HEADER_BYTES, FRAGMENT_HEADER_BYTES + len))
  })
}

export interface ReassemblerLimits {
  /** Partial messages held at once. */
  readonly maxMessages: number
  /** Bytes of chunks held at once. */
  readonly maxBytes: number
  /** How long a partial message may wait for its missing fragments, and how long a completed id is remembered. */
  readonly timeoutMs: number
}

export type AddResult =
  | { readonly status: 'incomplete'; readonly messageId: Buffer }
  | { readonly status: 'complete'; readonly messageId: Buffer; readonly message: Buffer }
  | { readonly status: 'duplicate'; readonly messageId: Buffer }
  | { readonly status: 'rejected'; readonly code: SealCode; readonly detail?: string }

interface Partial {
  count: number
  chunks: Array<Buffer | undefined>
  received: number
  bytes: number
  firstMs: number
}

export class Reassembler {
  readonly #limits: ReassemblerLimits
  readonly #partial = new Map<string, Partial>()
  readonly #done = new Map<string, number>()
  #bytes = 0

  constructor(limits: ReassemblerLimits) {
    for (const k of ['maxMessages', 'maxBytes', 'timeoutMs'] as const) {
      if (!Number.isInteger(limits[k]) || limits[k] < 1)
        throw MixError.BAD_ARGUMENT(`limits.${k} must be a positive integer (got ${String(limits[k])})`)
    }
    this.#limits = { ...limits }
  }

  get partialMessages(): number {
    return this.#partial.size
  }
  get bytesHeld(): number {
    return this.#bytes
  }

  add(fragment: Uint8Array, nowMs: number): AddResult {
    this.expire(nowMs)
    const p = parseFragment(fragment)
    if (!p.ok) return { status: 'rejected', code: p.code, detail: p.detail }
    const f = p.value
    const key = f.messageId.toString('hex')
    if (this.#done.has(key)) return { status: 'duplicate', messageId: f.messageId }
    let m = this.#partial.get(key)
    if (m === undefined) {
      if (f.count === 1) {
        this.#remember(key, nowMs)
        return { status: 'complete', messageId: f.messageId, message: f.chunk }
      }
      if (this.#partial.size >= this.#limits.maxMessages)
        return { status: 'rejected', code: 'SEAL_REASSEMBLY_FULL', detail: 'messages' }
      m = { count: f.count, chunks: new Array(f.count), received: 0, bytes: 0, firstMs: nowMs }
      this.#partial.set(key, m)
    }
    if (m.count !== f.count) return { status: 'rejected', code: 'SEAL_FRAGMENT_INCONSISTENT' }
    if (m.chunks[f.index] !== undefined) return { status: 'duplicate', messageId: f.messageId }
    if (this.#bytes + f.chunk.length > this.#limits.maxBytes) {
      if (m.received === 0) this.#partial.delete(key)
      return { status: 'rejected', code: 'SEAL_REASSEMBLY_FULL', detail: 'bytes' }
    }
    m.chunks[f.index] = f.chunk
    m.received++
    m.bytes += f.chunk.length
    this.#bytes += f.chunk.length
    if (m.received < m.count) return { status: 'incomplete', messageId: f.messageId }
    this.#partial.delete(key)
    this.#bytes -= m.bytes
    this.#remember(key, nowMs)
    return { status: 'complete', messageId: f.messageId, message: Buffer.concat(m.chunks as Buffer[]) }
  }

  /** Forget a completed message id, so that a re-sent copy is reassembled again (its delivery must be retried). */
  forget(messageId: Uint8Array): void {
    this.#done.delete(Buffer.from(messageId).toString('hex'))
  }

  /** Drop partial messages older than the timeout; returns how many were dropped. */
  expire(nowMs: number): number {
    let n = 0
    // Maps iterate in insertion order, which is arrival order: stop at the first live entry.
    for (const [k, m] of this.#partial) {
      if (nowMs - m.firstMs < this.#limits.timeoutMs) break
      this.#partial.delete(k)
      this.#bytes -= m.bytes
      n++
    }
    for (const [k, t] of this.#done) {
      if (nowMs - t < this.#limits.timeoutMs) break
      this.#done.delete(k)
    }
    return n
  }

  #remember(key: string, nowMs: number): void {
    this.#done.set(key, nowMs)
    // Bounded too: forget the oldest completed ids first.
    while (this.#done.size > this.#limits.maxMessages * 4) {
      const oldest = this.#done.keys().next().value as string
      this.#done.delete(oldest)
    }
  }
}
