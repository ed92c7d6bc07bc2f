/** Messages between the main thread and the unwrap workers. */
import type { DropDetail, UnwrapDropReason, UnwrapResult } from '../../../mix/index.ts'

export type WorkerRequest =
  | {
      type: 'init'
      binding: string
      hops: number
      userPayloadBytes: number
      keys: Uint8Array[]
      epochs: number[]
      maxDelayMs: number
    }
  /** Replace the mix keys (and the epoch each belongs to); keys no longer listed are zeroed. */
  | { type: 'keys'; keys: Uint8Array[]; epochs: number[] }
  | { type: 'batch'; id: number; count: number; data: ArrayBuffer }
  | { type: 'cover'; id: number; count: number; neighborId: string; neighborKey: string }

/**
 * One packet's unwrap outcome, by the `kind` names of mix's UnwrapResult, with its buffers left
 * out: the forwarded packet, delivered payload or SURB-reply body sits at index·P in the batch's
 * `out`, the replay tag at index·32 in `tags` (both transferred, not copied). Ids are hex;
 * `epoch` names the mix key that opened the packet.
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

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'batch'; id: number; results: WorkerResult[]; out: ArrayBuffer; tags: ArrayBuffer }
  | { type: 'cover'; id: number; out: ArrayBuffer }
