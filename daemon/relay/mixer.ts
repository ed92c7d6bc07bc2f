/**
 * The single mixing loop (docs/ARCHITECTURE.md). Unwrapped packets wait in `staged` until the next round;
 * a round then (1) moves them into the pool, (2) lets the strategy pick what leaves, (3) writes, in
 * ONE synced LevelDB batch, the replay tags of every staged packet (one record per epoch) and the
 * spool and mailbox records of what leaves, and only then (4) hands packets to the links, topping every outgoing
 * relay link up to the same count with cover. Rounds never overlap; round timing never depends
 * on content. A crash after (3) loses in-flight relay packets but never forwards one twice, and
 * every delivery it wrote is in the spool or a mailbox.
 * A round whose commit fails (a full or failing disk) sends nothing: its packets are dropped
 * (`store`), the relay reports not ready until a round commits again, and the deletes it carried
 * (acknowledgements, expiry) go into the next round's batch. No acknowledged record is lost.
 */
import { linkPadding, type MixingParams, type MixStrategy, PoolEntropy, type Rng, shuffle } from '../../mix/index.ts'
import type { BatchOp, Db, Health } from '../io/index.ts'
import { drop } from './drops.ts'
import type { QueueStore } from './gateway/queue-store.ts'
import type { ReplayStore } from './keys/replay-store.ts'
import type { RelayMetrics } from './metrics.ts'

export type Outbound =
  /** `frame`: the PACKET frame to send as it is (made once, when the packet was unwrapped). */
  | { readonly kind: 'peer'; readonly to: string; readonly frame: Buffer }
  | { readonly kind: 'ingress'; readonly to: string; readonly payload: Buffer }
  | { readonly kind: 'mailbox'; readonly to: Buffer; readonly record: Buffer }

export interface Staged {
  readonly out: Outbound | null
  /** The replay tag to commit (absent for packets this relay made itself), and the epoch of the key that opened the packet. */
  readonly tag?: Buffer
  readonly epoch?: number
  readonly delayMs: number
}

export interface PeerLinks {
  /** Ids of the outgoing relay links that are up now. */
  ready(): string[]
  /** Send one PACKET frame as it is; false when the link is down or its buffer is full. */
  send(to: string, frame: Buffer): boolean
  /** A cover PACKET frame for that link (one hop to the neighbour, discarded there). */
  cover(to: string): Buffer
  /** Hold the links' writes from the round's first send to its last, so each link's burst leaves in one write. */
  cork(): void
  uncork(): void
}

export interface MixerComponents {
  readonly db: Db
  readonly pool: MixStrategy<Outbound>
  readonly params: MixingParams
  readonly rng: Rng
  readonly now: () => number
  readonly replay: ReplayStore
  readonly spool: QueueStore | null
  readonly mailbox: QueueStore | null
  readonly links: PeerLinks
  readonly metrics: RelayMetrics
  /** Called after each round's commit with the ingresses that got new spool records. */
  readonly spooled: (ingressIds: Set<string>) => void
  /** Extra ops to fold into a round's batch (acks, expiry). */
  readonly extraOps: () => BatchOp[]
  readonly onError: (e: unknown) => void
  /** Where a failed commit is reported (and a good one clears it); without it the round throws to `onError`. */
  readonly health?: Health
}

export class Mixer {
  readonly #c: MixerComponents
  readonly #entropy = new PoolEntropy()
  #staged: Staged[] = []
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | null = null
  #stopped = false
  /** Deletes of a round that did not commit, for the next batch. */
  #retry: BatchOp[] = []

  constructor(c: MixerComponents) {
    this.#c = c
  }

  stage(s: Staged): void {
    this.#staged.push(s)
  }
  get stagedCount(): number {
    return this.#staged.length
  }

  start(): void {
    const tick = (): void => {
      if (this.#stopped) return
      const started = this.#c.now()
      this.#running = this.round()
        .then(
          () => this.#c.health?.ok('rounds'),
          e => this.#c.onError(e)
        )
        .finally(() => {
          this.#running = null
          if (this.#stopped) return
          const wait = Math.max(0, this.#c.params.intervalMs - (this.#c.now() - started))
          this.#timer = setTimeout(tick, wait)
        })
    }
    this.#timer = setTimeout(tick, this.#c.params.intervalMs)
  }

  async round(): Promise<void> {
    const c = this.#c
    const t0 = process.hrtime.bigint()
    const now = c.now()
    const staged = this.#staged
    this.#staged = []
    const ops: BatchOp[] = []
    let arrivals = 0
    ops.push(...c.replay.opsFor(staged))
    for (const s of staged) {
      if (s.out === null) continue
      arrivals++
      if (c.pool.add(s.out, now, s.delayMs, c.rng) !== undefined) drop(c.metrics, 'queue_full')
    }
    this.#entropy.arrive(arrivals)
    const { release, poolBefore } = c.pool.round(now, c.rng)
    const perLink = new Map<string, Buffer[]>()
    const touched = new Set<string>()
    const applied: Array<() => void> = []
    for (const o of release) {
      if (o.kind === 'peer') {
        let l = perLink.get(o.to)
        if (l === undefined) {
          l = []
          perLink.set(o.to, l)
        }
        l.push(o.frame)
      } else if (o.kind === 'ingress' && c.spool !== null) {
        const dest = Buffer.from(o.to, 'hex')
        if (!c.spool.hasRoom(dest)) {
          drop(c.metrics, 'quota')
          continue
        }
        const p = c.spool.put(dest, o.payload, now)
        ops.push(p.op)
        applied.push(p.applied)
        touched.add(o.to)
      } else if (o.kind === 'mailbox' && c.mailbox !== null) {
        if (!c.mailbox.hasRoom(o.to)) {
          drop(c.metrics, 'quota')
          continue
        }
        const p = c.mailbox.put(o.to, o.record, now)
        ops.push(p.op)
        applied.push(p.applied)
      }
    }
    ops.push(...c.extraOps(), ...this.#retry)
    this.#retry = []
    try {
      await c.replay.commit(ops)
    } catch (e) {
      // Nothing of this round is durable, so nothing of it leaves. Its tags stay in the filters
      // (no packet was forwarded, so none can be forwarded twice).
      this.#retry = ops.filter(o => o.type === 'del')
      c.metrics.storeCommitFailures.inc()
      let lost = applied.length
      for (const l of perLink.values()) lost += l.length
      if (lost > 0) drop(c.metrics, 'store', lost)
      c.metrics.poolPackets.set(c.pool.size)
      if (c.health === undefined) throw e
      c.health.fail('store', e)
      return
    }
    c.health?.ok('store')
    for (const f of applied) f()

    // Link padding: every ready relay link carries the same number of packets this round.
    const ready = c.links.ready()
    const counts = new Map<string, number>()
    for (const [to, list] of perLink) counts.set(to, list.length)
    const cover = linkPadding(counts, ready, c.params.minBatch)
    // One send order for real and cover alike: each link's frames (its real packets and its
    // padding) in a CSPRNG-shuffled order, links interleaved round robin. Sending real frames
    // first would let an observer tell them from the padding by their place in the burst (the
    // audit's KS test of departure times found exactly that).
    // Every frame of the round is in hand before the first send, so real and padding frames leave
    // through the same few instructions.
    const queues = new Map<string, Array<{ p: Buffer; cover: 0 | 1 }>>()
    for (const [to, list] of perLink)
      queues.set(
        to,
        list.map(p => ({ p, cover: 0 as const }))
      )
    for (const [to, n] of cover) {
      const q = queues.get(to) ?? []
      for (let i = 0; i < n; i++) q.push({ p: c.links.cover(to), cover: 1 })
      queues.set(to, q)
    }
    for (const q of queues.values()) shuffle(q, c.rng)
    const links = [...queues.keys()].sort() // a fixed order, not the order real packets came in
    const longest = Math.max(0, ...[...queues.values()].map(q => q.length))
    // Corked: each link's frames of the round leave in one write, so the spacing inside a burst is
    // set by the kernel, not by the event loop (which is busier when real traffic flows; the audit
    // could time that difference).
    let sent = 0
    let coverSent = 0
    c.links.cork()
    try {
      for (let i = 0; i < longest; i++) {
        for (const to of links) {
          const f = queues.get(to)![i]
          if (f === undefined) continue
          if (c.links.send(to, f.p)) {
            sent++
            coverSent += f.cover
          } else if (f.cover === 0) drop(c.metrics, ready.includes(to) ? 'queue_full' : 'link_down')
        }
      }
    } finally {
      c.links.uncork()
    }
    // Counted once per round, after the last send: a sent real frame and a sent cover frame take
    // the same instructions.
    if (sent > 0) c.metrics.sent.inc({ link: 'peer' }, sent)
    if (coverSent > 0) c.metrics.coverSent.inc({ kind: 'link' }, coverSent)
    if (touched.size > 0) c.spooled(touched)

    const realOut = release.length
    const h = this.#entropy.round(poolBefore, realOut)
    if (realOut > 0) c.metrics.poolEntropy.set(h)
    c.metrics.batchPackets.observe(realOut)
    c.metrics.poolPackets.set(c.pool.size)
    c.metrics.roundDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9)
  }

  /** Stop the timer and let the running round finish (its commit and sends complete). */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#running !== null) await this.#running
  }

  /** Commit the tags of whatever is still staged (shutdown: seen packets stay seen). */
  async flushTags(): Promise<void> {
    const c = this.#c
    const staged = this.#staged
    this.#staged = []
    await c.replay.commit(c.replay.opsFor(staged))
  }
}
