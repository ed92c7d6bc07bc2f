/**
 * The two ends of a mix key's hand-over to the unwrap workers (keyring.ts says the rest of its
 * life). This file imports nothing, so that the worker bundle can use it without the relay's I/O.
 */

/** What the unwrap pool sends each worker: the live secrets, and the epoch of each, in the same order. */
export function workerKeys(
  live: ReadonlyArray<{ readonly epoch: number; readonly key: { readonly secretKey: Uint8Array } }>
): { keys: Uint8Array[]; epochs: number[] } {
  return { keys: live.map(l => l.key.secretKey), epochs: live.map(l => l.epoch) }
}

/**
 * In a worker: the new key set, as the worker's own copies. Every key it held that is not in the
 * new set is zeroed, and so are the received arrays once copied (they belong to the message
 * alone), so that a retired key outlives its hand-over nowhere in the worker.
 */
export function replaceKeys(held: readonly Buffer[], received: readonly Uint8Array[]): Buffer[] {
  const copies = received.map(k => Buffer.from(k))
  for (const k of received) k.fill(0)
  for (const k of held) if (!copies.some(n => n.equals(k))) k.fill(0)
  return copies
}
