/**
 * What passes between the main thread and the unwrap workers: packets and their results in the
 * slots of a shared ring (ring.ts; the slot layout is below), and a few messages (start, key
 * hand-over, cover requests) on a MessagePort.
 */
import type { MessagePort } from 'node:worker_threads'
import type { DropDetail, UnwrapDropReason, UnwrapResult } from '../../../mix/index.ts'
import type { RingShared } from './ring.ts'

export type WorkerRequest =
  | {
      type: 'init'
      binding: string
      hops: number
      userPayloadBytes: number
      keys: Uint8Array[]
      epochs: number[]
      maxDelayMs: number
      /** This worker's ring, the pool's result bell (ring.ts), and the port for the messages below. */
      ring: RingShared
      bell: SharedArrayBuffer
      control: MessagePort
    }
  /**
   * Replace the mix keys (and the epoch each belongs to); keys no longer listed are zeroed. Packets
   * written after it carry `gen` in their slot: the worker unwraps a packet with the newest set
   * posted before the packet was, as the batches of one message queue were.
   */
  | { type: 'keys'; keys: Uint8Array[]; epochs: number[]; gen: number }
  | { type: 'cover'; id: number; count: number; neighborId: string; neighborKey: string }

/**
 * One packet's unwrap outcome, by the `kind` names of mix's UnwrapResult, with its buffers left
 * out: the forwarded packet, delivered payload or SURB-reply body and the replay tag are read from
 * the slot by the pool. Ids are hex; `epoch` names the mix key that opened the packet.
 */
export type WorkerResult =
  | { readonly kind: 'drop'; readonly reason: UnwrapDropReason; readonly detail: DropDetail }
  | { readonly kind: 'forward'; readonly nextHop: string; readonly delayMs: number; readonly epoch: number }
  | { readonly kind: 'deliver'; readonly recipient: string; readonly delayMs: number; readonly epoch: number }
  | { readonly kind: 'surb_reply'; readonly recipient: string; readonly surbId: string; readonly epoch: number }

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Holds<T extends true> = T
/** WorkerResult's kinds, which compile only while they are exactly those of mix's UnwrapResult. */
export type WorkerResultKind =
  Holds<Same<WorkerResult['kind'], UnwrapResult['type']>> extends true ? WorkerResult['kind'] : never

export type WorkerReply = { type: 'ready' } | { type: 'cover'; id: number; out: ArrayBuffer }

/** Result kinds, drop reasons and details by their one-byte code in a slot (the index). */
const KINDS = ['drop', 'forward', 'deliver', 'surb_reply'] as const
const REASONS = ['malformed', 'mac', 'replay'] as const
const DETAILS = [
  'bad_length',
  'bad_version',
  'low_order_point',
  'mac_mismatch',
  'replay',
  'unknown_command',
  'truncated_command',
  'nonzero_padding',
  'repeated_command',
  'illegal_combination',
  'delay_too_long',
  'payload_tag'
] as const
/** The code lists above, which compile only while they name every kind, reason and detail of mix's. */
export type SlotCodes = Holds<Same<(typeof KINDS)[number], WorkerResult['kind']>> &
  Holds<Same<(typeof REASONS)[number], UnwrapDropReason>> &
  Holds<Same<(typeof DETAILS)[number], DropDetail>>

/**
 * Byte offsets in a slot of a packet of P bytes:
 *   [0, P)       the packet in; after the unwrap, the forwarded packet, payload or body
 *   tag          the replay tag (32)
 *   id           next hop or recipient (32)
 *   surb         SURB id (16)
 *   kind, reason, detail   one byte each (the code lists above)
 *   delay        node delay, ms (uint32)
 *   epoch        the epoch of the key that opened it (float64: any safe integer)
 *   gen          the key set the packet was written under (uint32, written by the main thread)
 * rounded up to 64 bytes, so that two slots never share a cache line.
 */
export interface SlotLayout {
  readonly tag: number
  readonly id: number
  readonly surb: number
  readonly kind: number
  readonly reason: number
  readonly detail: number
  readonly delay: number
  readonly epoch: number
  readonly gen: number
  readonly bytes: number
}

export function slotLayout(packetBytes: number): SlotLayout {
  const P = packetBytes
  return {
    tag: P,
    id: P + 32,
    surb: P + 64,
    kind: P + 80,
    reason: P + 81,
    detail: P + 82,
    delay: P + 84,
    epoch: P + 88,
    gen: P + 96,
    bytes: Math.ceil((P + 100) / 64) * 64
  }
}

/** Worker: the outcome of one unwrap, into its slot (the output bytes are copied by the caller). */
export function writeResult(slot: Buffer, L: SlotLayout, r: UnwrapResult, epoch: number): void {
  slot[L.kind] = KINDS.indexOf(r.type)
  if (r.type === 'drop') {
    slot[L.reason] = REASONS.indexOf(r.reason)
    slot[L.detail] = DETAILS.indexOf(r.detail)
    return
  }
  r.replayTag.copy(slot, L.tag)
  slot.writeDoubleLE(epoch, L.epoch)
  switch (r.type) {
    case 'forward':
      r.nextHop.copy(slot, L.id)
      slot.writeUInt32LE(r.delayMs, L.delay)
      return
    case 'deliver':
      r.recipient.copy(slot, L.id)
      slot.writeUInt32LE(r.delayMs, L.delay)
      return
    case 'surb_reply':
      r.recipient.copy(slot, L.id)
      r.surbId.copy(slot, L.surb)
      return
    default: {
      const unknown: never = r
      throw new Error(`unwrap result ${String(unknown)}`)
    }
  }
}

/** Main thread: the outcome written by writeResult. */
export function readResult(slot: Buffer, L: SlotLayout): WorkerResult {
  const kind = KINDS[slot[L.kind]!]
  if (kind === 'drop') return { kind, reason: REASONS[slot[L.reason]!]!, detail: DETAILS[slot[L.detail]!]! }
  const epoch = slot.readDoubleLE(L.epoch)
  const id = slot.toString('hex', L.id, L.id + 32)
  switch (kind) {
    case 'forward':
      return { kind, nextHop: id, delayMs: slot.readUInt32LE(L.delay), epoch }
    case 'deliver':
      return { kind, recipient: id, delayMs: slot.readUInt32LE(L.delay), epoch }
    case 'surb_reply':
      return { kind, recipient: id, surbId: slot.toString('hex', L.surb, L.surb + 16), epoch }
    default:
      throw new Error(`unwrap result of unknown kind ${String(slot[L.kind])}`)
  }
}
