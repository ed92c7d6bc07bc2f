/**
 * The relay's packet path, and the one place that counts a packet dropped.
 *
 * receive(): a frame from a connection. A PACKET frame goes to the unwrap pool (refused there:
 * queue_full); ACK and PULL frames go to the gateway's edge; anything else is malformed.
 *
 * route(): a batch of unwrap results, in order. Every packet that unwrapped is checked against the
 * replay filter of its key's epoch here, on the main thread, so all workers share one filter per
 * key; then, by kind (the names of mix's UnwrapResult):
 * - drop: counted with unwrap's reason;
 * - forward: staged for the mixer, to a relay of the next layer whose link is up (a mix relay
 *   forwards only what came over a relay link); otherwise unknown_hop;
 * - deliver: link-padding cover (to the all-zero id) is counted and discarded, a loop of this relay
 *   is handed back to the loops, a payload for an ingress this gateway serves is staged for its
 *   spool; otherwise unknown_hop;
 * - surb_reply: staged for the mailbox on a gateway; otherwise unknown_hop.
 * A packet refused after its replay check is still staged without an output, so that its replay
 * tag is committed and a replay of it is refused as well.
 *
 * Every drop goes through drop() (drops.ts), which lists where each reason is counted.
 */
import { type DropReason, FRAME, type Geometry, packetFrame, parseFrame, type ReplayFilter } from '../../mix/index.ts'
import type { RawMessage } from '../io/index.ts'
import { drop } from './drops.ts'
import type { Edge } from './gateway/edge.ts'
import type { Conn, ConnKind } from './listener/server.ts'
import type { RelayMetrics } from './metrics.ts'
import type { Staged } from './mixer.ts'
import { NetworkView } from './network.ts'
import type { UnwrapPool, Unwrapped } from './unwrap/pool.ts'

/** What the relay keeps with a packet while a worker unwraps it: the kind of link it came on. */
export interface PacketCtx {
  readonly link: ConnKind
}

/** The recipient id of link-padding cover (mix's all-zero id, in hex). */
const COVER_RECIPIENT = '0'.repeat(64)

export interface RouterDeps {
  readonly geometry: Geometry
  readonly metrics: Pick<RelayMetrics, 'dropped' | 'receivedOn' | 'coverReceived'>
  /** This relay's id (hex) and layer (0: a gateway). */
  readonly self: { readonly id: string; readonly layer: number }
  /** The layer of a relay in the network document in use (it changes with the epoch); undefined when it is not listed. */
  readonly layerOf: (id: string) => number | undefined
  /** Whether this gateway serves an ingress of the document in use (listed with it, and its binding verifies where pinned). */
  readonly servesIngress: (id: string) => boolean
  /** The replay filter of an epoch's mix key; undefined once the key is retired. */
  readonly filter: (epoch: number) => Pick<ReplayFilter, 'full' | 'add'> | undefined
  /** Whether the outgoing link to a relay is up. */
  readonly linkUp: (id: string) => boolean
  readonly pool: Pick<UnwrapPool<PacketCtx>, 'submit'>
  readonly mixer: { stage: (s: Staged) => void }
  /** A loop of this relay came back (its payload). */
  readonly loopReturned: (payload: Buffer) => void
  /** The gateway's edge (ACKs, PULLs, mailbox keys); null on a mix relay, which delivers nothing. */
  readonly edge: Pick<Edge, 'ingressAck' | 'pull' | 'clientAck' | 'mailboxKeyOf'> | null
  /** True once the relay is stopping: packets are then refused (queue_full). */
  readonly stopping: () => boolean
  /** Called after each batch is routed (the replay filters have grown). */
  readonly routed?: () => void
}

export class Router {
  readonly #d: RouterDeps
  readonly #gateway: boolean

  constructor(d: RouterDeps) {
    this.#d = d
    this.#gateway = d.edge !== null
  }

  #drop(reason: DropReason): void {
    drop(this.#d.metrics, reason)
  }

  /** One frame from a connection. */
  receive(c: Conn, m: RawMessage): void {
    const d = this.#d
    const f = m.isBinary ? parseFrame(d.geometry, m.data) : null
    if (f === null) {
      this.#drop('malformed')
      return
    }
    if (f.kind === FRAME.PACKET) {
      d.metrics.receivedOn[c.kind === 'relay' ? 'peer' : c.kind].inc()
      if (d.stopping() || !d.pool.submit(f.body, { link: c.kind }, c, c.kind === 'client' ? 'client' : 'peer'))
        this.#drop('queue_full')
      return
    }
    if (c.kind === 'ingress' && f.kind === FRAME.ACK) {
      d.edge?.ingressAck(c.peerId!, f.body)
      return
    }
    if (c.kind === 'client' && f.kind === FRAME.PULL) {
      void d.edge?.pull(c, f.body)
      return
    }
    if (c.kind === 'client' && f.kind === FRAME.ACK) {
      d.edge?.clientAck(c, f.body)
      return
    }
    this.#drop('malformed')
  }

  /** One batch of unwrap results, in the batch's order. */
  route(results: ReadonlyArray<Unwrapped<PacketCtx>>): void {
    for (const u of results) this.#one(u)
    this.#d.routed?.()
  }

  #one({ ctx, result: r, bytes, tag }: Unwrapped<PacketCtx>): void {
    const d = this.#d
    const g = d.geometry
    if (r.kind === 'drop') {
      this.#drop(r.reason)
      return
    }
    // A key retired while its packets were in a worker has no filter any more: they are refused.
    const filter = d.filter(r.epoch)
    if (filter === undefined || filter.full) {
      this.#drop('replay_full')
      return
    }
    if (!filter.add(tag)) {
      this.#drop('replay')
      return
    }
    const t = Buffer.from(tag)
    const epoch = r.epoch
    switch (r.kind) {
      case 'forward': {
        if (
          d.layerOf(r.nextHop) !== NetworkView.nextLayer(d.self.layer) ||
          !d.linkUp(r.nextHop) ||
          (ctx.link !== 'relay' && d.self.layer !== 0)
        ) {
          this.#refuse(t, epoch)
          return
        }
        d.mixer.stage({
          out: { kind: 'peer', to: r.nextHop, frame: packetFrame(g, bytes) },
          tag: t,
          epoch,
          delayMs: r.delayMs
        })
        return
      }
      case 'deliver': {
        if (r.recipient === COVER_RECIPIENT) {
          d.metrics.coverReceived.inc()
          d.mixer.stage({ out: null, tag: t, epoch, delayMs: 0 })
          return
        }
        if (r.recipient === d.self.id) {
          d.loopReturned(bytes.subarray(0, g.userPayloadBytes))
          d.mixer.stage({ out: null, tag: t, epoch, delayMs: 0 })
          return
        }
        if (!this.#gateway || !d.servesIngress(r.recipient)) {
          this.#refuse(t, epoch)
          return
        }
        d.mixer.stage({
          out: { kind: 'ingress', to: r.recipient, payload: Buffer.from(bytes.subarray(0, g.userPayloadBytes)) },
          tag: t,
          epoch,
          delayMs: r.delayMs
        })
        return
      }
      case 'surb_reply': {
        if (d.edge === null) {
          this.#refuse(t, epoch)
          return
        }
        const record = Buffer.concat([Buffer.from(r.surbId, 'hex'), bytes.subarray(0, g.bodyBytes)])
        d.mixer.stage({
          out: { kind: 'mailbox', to: d.edge.mailboxKeyOf(Buffer.from(r.recipient, 'hex')), record },
          tag: t,
          epoch,
          delayMs: 0
        })
        return
      }
      default:
        unreachable(r)
    }
  }

  /** Refused after its replay check: counted, and staged without an output so that its tag is committed. */
  #refuse(tag: Buffer, epoch: number): void {
    this.#drop('unknown_hop')
    this.#d.mixer.stage({ out: null, tag, epoch, delayMs: 0 })
  }
}

/** Compiles only while the switch above handles every kind of WorkerResult. */
function unreachable(r: never): never {
  throw new Error(`unwrap result of no known kind: ${JSON.stringify(r)}`)
}
