/**
 * Every metric the relay exports, on a private prom-client registry (never the global one, so
 * several relays can share a test process). Labels come only from the closed sets below; no series
 * is keyed by a peer, client, address or id, so the series count does not grow with clients.
 * docs/METRICS.md explains each series and what to do when it moves.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { DROP_REASONS } from '../../mix/index.ts'
import { processMetrics } from '../io/index.ts'

/** The `reason` labels of the drop counter: mix's one list of drop reasons, as it is. */
export { DROP_REASONS }
export const LINKS = ['client', 'peer', 'ingress'] as const
export type LinkLabel = (typeof LINKS)[number]
export const COVER_KINDS = ['link', 'loop'] as const
/** Why a fetched directory document was refused (client/directory.ts). */
export const DIRECTORY_REJECTIONS = [
  'too_large',
  'malformed',
  'bad_signatures',
  'geometry',
  'not_valid_now',
  'inconsistent',
  'equivocation',
  'wrong_network'
] as const
/** Why the listener refused a new connection (daemon/relay/listener/server.ts); docs/METRICS.md says what each means. */
export const CONN_REFUSALS = [
  'max_connections',
  'client_slots',
  'unauthenticated',
  'address_unauth',
  'address_clients',
  'bad_request'
] as const
export type ConnRefusalLabel = (typeof CONN_REFUSALS)[number]
/** Why the listener closed a connection itself (daemon/relay/listener/server.ts). */
export const CONN_CLOSES = [
  'handshake_timeout',
  'handshake_failed',
  'evicted',
  'frame_deadline',
  'too_large',
  'protocol_error',
  'ping_timeout',
  'replaced',
  'max_connections'
] as const
export type ConnCloseLabel = (typeof CONN_CLOSES)[number]
/** `link` of the connection counters: the LINKS, and `unknown` for a socket closed before its upgrade named a path. */
export const CONN_LINKS = ['client', 'peer', 'ingress', 'unknown'] as const
export type ConnLinkLabel = (typeof CONN_LINKS)[number]

export class RelayMetrics {
  readonly registry = new Registry()
  readonly received: Counter<'link'>
  readonly sent: Counter<'link'>
  /** `received` per link label, bound once: the per-packet increment builds no label key. */
  readonly receivedOn: Readonly<Record<LinkLabel, Counter.Internal>>
  /** Moved only by countDrop (daemon/relay/router.ts), with a reason from DROP_REASONS. */
  readonly dropped: Counter<'reason'>
  readonly coverSent: Counter<'kind'>
  readonly coverReceived: Counter
  readonly poolPackets: Gauge
  readonly batchPackets: Histogram
  readonly poolEntropy: Gauge
  readonly roundDuration: Histogram
  readonly loopsSent: Counter
  readonly loopsReturned: Counter
  readonly loopSuccess: Gauge
  readonly replayFill: Gauge
  readonly connections: Gauge<'link'>
  readonly handshakeFailures: Counter<'link'>
  readonly sendBuffer: Gauge<'link'>
  readonly spoolPackets: Gauge
  readonly spoolBytes: Gauge
  readonly spoolOldest: Gauge
  readonly mailboxPackets: Gauge
  readonly mailboxOldest: Gauge
  readonly delivered: Counter<'link'>
  readonly networkAge: Gauge
  readonly epoch: Gauge
  readonly epochLength: Gauge
  readonly mixKeysLive: Gauge
  readonly directoryRejected: Counter<'reason'>
  readonly up: Gauge<'role' | 'layer'>
  /** Mixing rounds whose synced commit failed or was refused (disk full or failing); their packets are dropped as `store`. */
  readonly storeCommitFailures: Counter
  readonly connectionsRefused: Counter<'reason'>
  readonly connectionsClosed: Counter<'link' | 'reason'>
  readonly connectionsUnauthenticated: Gauge
  readonly unwrapQueue: Gauge<'link'>
  /** Set by the unwrap pool: packets waiting for a worker, by lane; read at scrape time. */
  unwrapQueued: (() => { client: number; peer: number }) | undefined

  readonly #role: 'gateway' | 'mix'

  /** The layer is known once the network document (or the directory config) is read at start. */
  describe(layer: number): void {
    this.up.reset()
    this.up.set({ role: this.#role, layer: String(layer) }, 1)
  }

  constructor(role: 'gateway' | 'mix') {
    const registers = [this.registry]
    processMetrics(this.registry)
    this.received = new Counter({
      name: 'sealmix_packets_received_total',
      help: 'Packet frames received, by kind of link.',
      labelNames: ['link'],
      registers
    })
    this.sent = new Counter({
      name: 'sealmix_packets_sent_total',
      help: 'Packet frames sent (real and cover), by kind of link.',
      labelNames: ['link'],
      registers
    })
    this.dropped = new Counter({
      name: 'sealmix_packets_dropped_total',
      help: 'Packets dropped, by reason.',
      labelNames: ['reason'],
      registers
    })
    this.coverSent = new Counter({
      name: 'sealmix_cover_sent_total',
      help: 'Cover packets sent: link padding and loops.',
      labelNames: ['kind'],
      registers
    })
    this.coverReceived = new Counter({
      name: 'sealmix_cover_received_total',
      help: 'Link-padding cover packets received and discarded.',
      registers
    })
    this.poolPackets = new Gauge({
      name: 'sealmix_mix_pool_packets',
      help: 'Packets held in the mixing pool.',
      registers
    })
    this.batchPackets = new Histogram({
      name: 'sealmix_mix_batch_packets',
      help: 'Real packets released per mixing round.',
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
      registers
    })
    this.poolEntropy = new Gauge({
      name: 'sealmix_mix_pool_entropy',
      help: 'Shannon entropy, in bits, that the batch strategy gives one output of the last round with output, from the pool counts alone: it assumes the relay mixes as configured (sealmix audit checks that).',
      registers
    })
    this.roundDuration = new Histogram({
      name: 'sealmix_mix_round_duration_seconds',
      help: 'Time from round start to the last packet handed to the sockets, including the synced commit.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    this.loopsSent = new Counter({
      name: 'sealmix_loops_sent_total',
      help: 'Loop cover packets sent by this relay.',
      registers
    })
    this.loopsReturned = new Counter({
      name: 'sealmix_loops_returned_total',
      help: 'Loop cover packets that came back.',
      registers
    })
    this.loopSuccess = new Gauge({
      name: 'sealmix_loop_success_ratio',
      help: 'Share of loops sent in the last window that came back (n-1 and flooding detection).',
      registers
    })
    this.replayFill = new Gauge({
      name: 'sealmix_replay_filter_fill_ratio',
      help: 'Replay filter entries over its capacity; at 1 packets are refused.',
      registers
    })
    this.connections = new Gauge({
      name: 'sealmix_connections',
      help: 'Open WebSocket connections, by kind of link.',
      labelNames: ['link'],
      registers
    })
    this.handshakeFailures = new Counter({
      name: 'sealmix_handshake_failures_total',
      help: 'Connections closed because their handshake failed or timed out.',
      labelNames: ['link'],
      registers
    })
    this.sendBuffer = new Gauge({
      name: 'sealmix_send_buffer_bytes',
      help: 'Bytes queued in WebSocket send buffers, summed by kind of link.',
      labelNames: ['link'],
      registers
    })
    this.spoolPackets = new Gauge({
      name: 'sealmix_spool_packets',
      help: 'Packets spooled for ingresses, not yet acknowledged.',
      registers
    })
    this.spoolBytes = new Gauge({
      name: 'sealmix_spool_bytes',
      help: 'Payload bytes spooled for ingresses.',
      registers
    })
    this.spoolOldest = new Gauge({
      name: 'sealmix_spool_oldest_age_seconds',
      help: 'Age in seconds of the oldest spooled packet (a lower bound for packets stored before the relay started).',
      registers
    })
    this.mailboxPackets = new Gauge({
      name: 'sealmix_mailbox_packets',
      help: 'SURB replies waiting in client mailboxes.',
      registers
    })
    this.mailboxOldest = new Gauge({
      name: 'sealmix_mailbox_oldest_age_seconds',
      help: 'Age in seconds of the oldest mailbox packet (a lower bound for packets stored before the relay started).',
      registers
    })
    this.delivered = new Counter({
      name: 'sealmix_delivered_total',
      help: 'Payloads acknowledged by an ingress or a client.',
      labelNames: ['link'],
      registers
    })
    this.networkAge = new Gauge({
      name: 'sealmix_network_document_age_seconds',
      help: 'Seconds since the network document in use became valid.',
      registers
    })
    this.epoch = new Gauge({ name: 'sealmix_epoch', help: 'The epoch of the network document in use.', registers })
    this.epochLength = new Gauge({
      name: 'sealmix_epoch_length_seconds',
      help: 'Epoch length of the network document in use; 0 for a static network file.',
      registers
    })
    this.mixKeysLive = new Gauge({
      name: 'sealmix_mix_keys_live',
      help: 'Private mix keys held in memory (current, previous in its grace window, next near its start).',
      registers
    })
    this.directoryRejected = new Counter({
      name: 'sealmix_directory_rejected_total',
      help: 'Directory documents refused, by reason.',
      labelNames: ['reason'],
      registers
    })
    for (const r of DIRECTORY_REJECTIONS) this.directoryRejected.inc({ reason: r }, 0)
    this.storeCommitFailures = new Counter({
      name: 'sealmix_store_commit_failures_total',
      help: 'Mixing rounds whose synced database commit failed or was refused (disk full or failing); /readyz answers 503 meanwhile.',
      registers
    })
    this.up = new Gauge({
      name: 'sealmix_relay_info',
      help: 'Always 1 once started; the role and layer labels say what this relay is (dashboards filter by them).',
      labelNames: ['role', 'layer'],
      registers
    })
    this.#role = role
    for (const r of DROP_REASONS) this.dropped.inc({ reason: r }, 0)
    this.receivedOn = {
      client: this.received.labels('client'),
      peer: this.received.labels('peer'),
      ingress: this.received.labels('ingress')
    }
    for (const l of LINKS) {
      this.received.inc({ link: l }, 0)
      this.sent.inc({ link: l }, 0)
      this.connections.set({ link: l }, 0)
      this.sendBuffer.set({ link: l }, 0)
      this.handshakeFailures.inc({ link: l }, 0)
      this.delivered.inc({ link: l }, 0)
    }
    for (const k of COVER_KINDS) this.coverSent.inc({ kind: k }, 0)
    this.connectionsRefused = new Counter({
      name: 'sealmix_connections_refused_total',
      help: 'New connections refused by the listener, by reason.',
      labelNames: ['reason'],
      registers
    })
    for (const r of CONN_REFUSALS) this.connectionsRefused.inc({ reason: r }, 0)
    this.connectionsClosed = new Counter({
      name: 'sealmix_connections_closed_total',
      help: 'Connections the listener closed itself, by kind of link and reason.',
      labelNames: ['link', 'reason'],
      registers
    })
    for (const l of CONN_LINKS) for (const r of CONN_CLOSES) this.connectionsClosed.inc({ link: l, reason: r }, 0)
    this.connectionsUnauthenticated = new Gauge({
      name: 'sealmix_connections_unauthenticated',
      help: 'Sockets held that have not completed their handshake (raw TCP included).',
      registers
    })
    const metrics = this
    this.unwrapQueued = undefined
    this.unwrapQueue = new Gauge({
      name: 'sealmix_unwrap_queue_packets',
      help: 'Packets waiting for an unwrap worker, by lane (peer: relay and ingress links).',
      labelNames: ['link'],
      registers,
      collect() {
        const q = metrics.unwrapQueued?.() ?? { client: 0, peer: 0 }
        this.set({ link: 'client' }, q.client)
        this.set({ link: 'peer' }, q.peer)
      }
    })
    this.unwrapQueue.set({ link: 'client' }, 0)
    this.unwrapQueue.set({ link: 'peer' }, 0)
  }
}
