/**
 * Why a relay drops a packet: the closed label set of `sealmix_packets_dropped_total{reason}`
 * (docs/METRICS.md says what each means and what to do). Sphinx unwrap decides the first three
 * (UnwrapDropReason); the relay decides the rest. The metric exports exactly this list, so a new
 * reason is added here, and to docs/METRICS.md, or not at all.
 */
export const DROP_REASONS = [
  'malformed',
  'mac',
  'replay',
  'replay_full',
  'unknown_hop',
  'link_down',
  'queue_full',
  'quota',
  'ttl',
  'store'
] as const
export type DropReason = (typeof DROP_REASONS)[number]
