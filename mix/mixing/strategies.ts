/**
 * Mixing (docs/PROTOCOL.md §18): the strategies' pools (pools.ts), the table that names them
 * (registry.ts), link padding and the default parameters.
 */
import type { MixingParams } from '../directory/document.ts'

export * from './pools.ts'
export * from './registry.ts'

/**
 * Link padding: every outgoing link carries the same number of packets in a round. Returns how
 * many cover packets each link needs: up to the largest real count, and at least enough that the
 * round has minBatch packets in all.
 */
export function linkPadding(
  counts: ReadonlyMap<string, number>,
  links: readonly string[],
  minBatch: number
): Map<string, number> {
  let target = 0
  for (const l of links) target = Math.max(target, counts.get(l) ?? 0)
  if (links.length > 0) target = Math.max(target, Math.ceil(minBatch / links.length))
  const cover = new Map<string, number>()
  for (const l of links) cover.set(l, target - (counts.get(l) ?? 0))
  return cover
}

/** The mixing parameters a network document carries unless its maker says otherwise. */
export const DEFAULT_MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}
