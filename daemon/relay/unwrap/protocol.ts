/** Messages between the main thread and the unwrap workers. */
export type WorkerRequest =
  | { type: 'init', binding: string, hops: number, userPayloadBytes: number, keys: Uint8Array[], epochs: number[], maxDelayMs: number }
  /** Replace the mix keys (and the epoch each belongs to); keys no longer listed are zeroed. */
  | { type: 'keys', keys: Uint8Array[], epochs: number[] }
  | { type: 'batch', id: number, count: number, data: ArrayBuffer }
  | { type: 'cover', id: number, count: number, neighborId: string, neighborKey: string }

/** t: 0 drop, 1 forward, 2 deliver, 3 SURB reply; `epoch` names the mix key that opened the packet. The packet, payload or body sits at index·P in `out`, the tag at index·32 in `tags`. */
export type WorkerResult =
  | { t: 0, reason: string, detail: string }
  | { t: 1 | 2, hop: string, delay: number, epoch: number }
  | { t: 3, hop: string, surbId: string, delay: number, epoch: number }

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'batch', id: number, results: WorkerResult[], out: ArrayBuffer, tags: ArrayBuffer }
  | { type: 'cover', id: number, out: ArrayBuffer }
