/**
 * Where the relay drops a packet, by reason (mix's one list, the metric's label set). Every one
 * of them moves the counter through drop(), here:
 * - malformed: a frame that does not parse or is not expected on its link (router.ts, receive); unwrap
 *   (bad length, version, key, commands or payload tag);
 * - mac, replay: unwrap, and the replay filter (router.ts, route);
 * - replay_full, unknown_hop: router.ts, route;
 * - queue_full: the unwrap queue (router.ts, receive, and the pool pushing a packet out:
 *   unwrap/pool.ts), the mixing pool and a full send buffer at send time (mixer.ts), a PULL
 *   replaced or a send buffer full while answering a PULL (gateway/edge.ts);
 * - link_down: a round's packet for a link that is down (mixer.ts);
 * - quota: a spool destination or mailbox at its quota when a round stores (mixer.ts);
 * - store: a round whose commit failed (mixer.ts);
 * - ttl: spool and mailbox records expired, each round (relay.ts).
 */
import type { DropReason } from '../../mix/index.ts'
import type { RelayMetrics } from './metrics.ts'

/** Count `n` packets dropped for `reason`: the only place the drop counter moves. */
export function drop(metrics: Pick<RelayMetrics, 'dropped'>, reason: DropReason, n = 1): void {
  metrics.dropped.inc({ reason }, n)
}
