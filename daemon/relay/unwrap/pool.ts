/**
 * A pool of unwrap workers behind a fair queue. Packets are queued per source (one
 * connection), and batches for the workers are built by deficit round robin over the sources:
 * one source cannot take more than its share of the workers, however fast it sends.
 *
 * - Two lanes, `peer` (relay and ingress links) and `client`. When both have packets waiting, each
 *   batch is at least half peer and half client, so a client flood never takes what the network's
 *   own links carry, and relay links never starve clients either; an idle lane leaves its half to
 *   the other. Within a lane every source gets QUANTUM packets per turn.
 * - Bounds: `maxQueued` packets waiting in all (memory); a client source at most
 *   `maxQueuedPerClient`. At three quarters of its bound a client's connection is paused (TCP
 *   backpressure: its bytes stay in the kernel, costing this relay nothing) and resumed at a quarter.
 *   Relay links are never paused (that would stall their pings). At the total bound, a packet from
 *   a source holding less than its fair share (half the queue per lane while both lanes hold
 *   packets, split among the lane's sources) pushes out the newest packet of the longest queue;
 *   otherwise it is refused. Either drop is counted queue_full.
 * - At most IN_FLIGHT_BATCHES batches per worker are handed over at once, so the order above is
 *   the order of work (otherwise everything would wait, first come first served, in the workers'
 *   message queues).
 * Results come back per batch, in the batch's order.
 * setLimits (a reload) changes both bounds while packets wait: nothing waiting is dropped for it;
 * above a lower bound, new packets are refused (or make room, as above) until the queue is under it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Geometry } from '../../../mix/index.ts'
import { projectRoot } from '../../io/index.ts'
import { drop } from '../drops.ts'
import type { RelayMetrics } from '../metrics.ts'
import type { WorkerReply, WorkerResult } from './protocol.ts'

export interface Unwrapped<C> {
  readonly ctx: C
  readonly result: WorkerResult
  /** The forwarded packet, delivered payload or SURB-reply body (a view into the batch buffer). */
  readonly bytes: Buffer
  readonly tag: Buffer
}

/** Where packets come from: a connection; pause() and resume() are used for client sources. */
export interface Source {
  pause?: () => void
  resume?: () => void
}
export type Lane = 'peer' | 'client'

const MAX_BATCH = 64
/**
 * Batches handed to each worker at once: one being unwrapped and two ready behind it, so that a
 * worker never waits for a busy main thread to hand it the next (a batch of 64 takes about 4 ms);
 * more would put back the first-come-first-served queue this pool replaces.
 */
export const IN_FLIGHT_BATCHES = 3
/** Packets a source may take per round-robin turn. */
const QUANTUM = 4
const NO_SOURCE: Source = {}

/**
 * The worker script: the esbuild bundle from `npm run build` (plain JavaScript, about 17 MiB less
 * per worker than loading TypeScript through tsx in every thread), else the tsx entry.
 */
const BUNDLE = pathToFileURL(join(projectRoot(import.meta.url), 'dist', 'unwrap-worker.mjs'))
export const WORKER_URL: URL = existsSync(fileURLToPath(BUNDLE))
  ? BUNDLE
  : new URL('./worker-entry.mjs', import.meta.url)

/** One source's queue: FIFO from `head`; at most maxQueued (any source) or maxQueuedPerClient (client sources) packets. */
interface Flow<C> {
  readonly source: Source
  readonly lane: Lane
  items: Array<{ packet: Buffer; ctx: C }>
  head: number
  deficit: number
  paused: boolean
}

/** A lane's sources with packets waiting, in round-robin order (at most one per connection). */
interface LaneState<C> {
  ring: Array<Flow<C>>
  pos: number
  granted: boolean
  queued: number
}

export class UnwrapPool<C> {
  readonly #workers: Worker[] = []
  readonly #g: Geometry
  readonly #onResults: (r: Array<Unwrapped<C>>) => void
  #maxQueued: number
  #perClient: number
  readonly #metrics: RelayMetrics | undefined
  /** Sources with packets waiting (a source leaves with its last packet): at most one per connection. */
  readonly #flows = new Map<Source, Flow<C>>()
  readonly #lanes: Record<Lane, LaneState<C>> = {
    peer: { ring: [], pos: 0, granted: false, queued: 0 },
    client: { ring: [], pos: 0, granted: false, queued: 0 }
  }
  #queued = 0
  #inFlight = 0
  #batchesOut = 0
  #next = 0
  #seq = 0
  #scheduled = false
  /** Batches and cover requests handed to the workers: at most IN_FLIGHT_BATCHES per worker, plus cover requests (one per neighbour refill). */
  readonly #pending = new Map<number, { ctx: C[]; resolve?: (b: Buffer) => void }>()

  constructor(o: {
    workers: number
    geometry: Geometry
    maxQueued: number
    maxQueuedPerClient?: number
    metrics?: RelayMetrics
    onResults: (r: Array<Unwrapped<C>>) => void
  }) {
    this.#g = o.geometry
    this.#onResults = o.onResults
    this.#maxQueued = o.maxQueued
    this.#perClient = perClient(o.maxQueuedPerClient, o.maxQueued)
    this.#metrics = o.metrics
    if (o.metrics !== undefined)
      o.metrics.unwrapQueued = () => ({ client: this.#lanes.client.queued, peer: this.#lanes.peer.queued })
    for (let i = 0; i < o.workers; i++) {
      const w = new Worker(WORKER_URL)
      w.on('message', (m: WorkerReply) => this.#reply(m))
      w.on('error', e => {
        throw e
      })
      this.#workers.push(w)
    }
  }

  async init(o: { binding: string; keys: Uint8Array[]; epochs: number[]; maxDelayMs: number }): Promise<void> {
    await Promise.all(
      this.#workers.map(async w => {
        await new Promise<void>(resolve => {
          const f = (m: WorkerReply): void => {
            if (m.type === 'ready') {
              w.off('message', f)
              resolve()
            }
          }
          w.on('message', f)
          w.postMessage({
            type: 'init',
            binding: o.binding,
            hops: this.#g.hops,
            userPayloadBytes: this.#g.userPayloadBytes,
            keys: o.keys,
            epochs: o.epochs,
            maxDelayMs: o.maxDelayMs
          })
        })
      })
    )
  }

  /** New bounds, for the next packet submitted (a paused client is resumed by its next turn under the new quarter). */
  setLimits(o: { maxQueued: number; maxQueuedPerClient?: number }): void {
    this.#maxQueued = o.maxQueued
    this.#perClient = perClient(o.maxQueuedPerClient, o.maxQueued)
  }

  /** Replace the mix keys in every worker; batches sent after this call use the new set. */
  setKeys(keys: Uint8Array[], epochs: number[]): void {
    for (const w of this.#workers) w.postMessage({ type: 'keys', keys, epochs })
  }

  /** Packets waiting or in the workers. */
  get backlog(): number {
    return this.#queued + this.#inFlight
  }
  /** Packets waiting, per lane. */
  queued(lane: Lane): number {
    return this.#lanes[lane].queued
  }
  /** Packets waiting from one source. */
  queuedFrom(source: Source): number {
    const f = this.#flows.get(source)
    return f === undefined ? 0 : f.items.length - f.head
  }

  /** Queue one packet from `source`; false when it is refused (the caller counts queue_full). */
  submit(packet: Buffer, ctx: C, source: Source = NO_SOURCE, lane: Lane = 'peer'): boolean {
    let f = this.#flows.get(source)
    const mine = f === undefined ? 0 : f.items.length - f.head
    if (lane === 'client' && mine >= this.#perClient) return false
    if (this.#queued >= this.#maxQueued && !this.#makeRoom(lane, mine, f === undefined)) return false
    if (f === undefined) {
      f = { source, lane, items: [], head: 0, deficit: 0, paused: false }
      this.#flows.set(source, f)
      this.#lanes[lane].ring.push(f)
    }
    f.items.push({ packet, ctx })
    this.#queued++
    this.#lanes[f.lane].queued++
    if (f.lane === 'client' && !f.paused && mine + 1 >= (this.#perClient * 3) >> 2 && f.source.pause !== undefined) {
      f.paused = true
      f.source.pause()
    }
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
    return true
  }

  /**
   * The queue is full. A source holding less than its share (half the queue for its lane when the
   * other lane holds packets, split among the lane's sources) pushes out the newest packet of the
   * longest queue: in the other lane if that lane holds more than its half, else in its own.
   */
  #makeRoom(lane: Lane, mine: number, newSource: boolean): boolean {
    const own = this.#lanes[lane]
    const other = this.#lanes[lane === 'peer' ? 'client' : 'peer']
    const half = this.#maxQueued / 2
    const share = (other.queued > 0 ? half : this.#maxQueued) / (own.ring.length + (newSource ? 1 : 0))
    if (mine >= share) return false
    const from = other.queued > half ? other.ring : own.ring
    let victim: Flow<C> | undefined
    let most = from === own.ring ? mine + 1 : 0
    for (const f of from) {
      const n = f.items.length - f.head
      if (n > most) {
        most = n
        victim = f
      }
    }
    if (victim === undefined) return false
    victim.items.pop()
    this.#queued--
    this.#lanes[victim.lane].queued--
    if (victim.items.length === victim.head) this.#remove(victim)
    if (this.#metrics !== undefined) drop(this.#metrics, 'queue_full')
    return true
  }

  /** Move up to `max` packets of `lane` into `out`, deficit round robin. */
  #take(lane: LaneState<C>, out: Array<{ packet: Buffer; ctx: C }>, max: number): void {
    while (out.length < max && lane.ring.length > 0) {
      if (lane.pos >= lane.ring.length) lane.pos = 0
      const f = lane.ring[lane.pos]!
      if (!lane.granted) {
        f.deficit += QUANTUM
        lane.granted = true
      }
      let n = 0
      while (out.length < max && f.deficit > 0 && f.head < f.items.length) {
        out.push(f.items[f.head++]!)
        f.deficit--
        n++
      }
      this.#queued -= n
      lane.queued -= n
      if (f.head === f.items.length) {
        this.#remove(f)
        continue
      }
      if (f.head > 1024 && f.head * 2 > f.items.length) {
        f.items = f.items.slice(f.head)
        f.head = 0
      }
      if (f.paused && f.items.length - f.head <= this.#perClient >> 2) {
        f.paused = false
        f.source.resume?.()
      }
      if (f.deficit <= 0) {
        lane.pos++
        lane.granted = false
      }
    }
  }

  /** A source with nothing left waiting leaves its lane (and is resumed if it was paused). */
  #remove(f: Flow<C>): void {
    const lane = this.#lanes[f.lane]
    const i = lane.ring.indexOf(f)
    if (i >= 0) {
      lane.ring.splice(i, 1)
      if (i < lane.pos) lane.pos--
      else if (i === lane.pos) lane.granted = false
    }
    this.#flows.delete(f.source)
    f.deficit = 0
    if (f.paused) {
      f.paused = false
      f.source.resume?.()
    }
  }

  #flush(): void {
    this.#scheduled = false
    const P = this.#g.packetBytes
    const { peer, client } = this.#lanes
    while (this.#queued > 0 && this.#batchesOut < this.#workers.length * IN_FLIGHT_BATCHES) {
      const batch: Array<{ packet: Buffer; ctx: C }> = []
      // Half for each lane when both wait; whatever one leaves, the other may take.
      this.#take(peer, batch, MAX_BATCH >> 1)
      this.#take(client, batch, MAX_BATCH)
      this.#take(peer, batch, MAX_BATCH)
      if (batch.length === 0) break
      const data = Buffer.alloc(batch.length * P)
      batch.forEach((b, i) => {
        b.packet.copy(data, i * P)
      })
      const id = ++this.#seq
      this.#pending.set(id, { ctx: batch.map(b => b.ctx) })
      this.#inFlight += batch.length
      this.#batchesOut++
      const w = this.#workers[this.#next++ % this.#workers.length]!
      w.postMessage({ type: 'batch', id, count: batch.length, data: data.buffer }, [data.buffer])
    }
  }

  /** Build `count` one-hop cover packets to a neighbour, off the main thread. */
  async cover(count: number, neighborId: string, neighborKey: string): Promise<Buffer> {
    const id = ++this.#seq
    return await new Promise<Buffer>(resolve => {
      this.#pending.set(id, { ctx: [], resolve })
      this.#workers[this.#next++ % this.#workers.length]!.postMessage({
        type: 'cover',
        id,
        count,
        neighborId,
        neighborKey
      })
    })
  }

  #reply(m: WorkerReply): void {
    if (m.type === 'ready') return
    const p = this.#pending.get(m.id)
    if (p === undefined) return
    this.#pending.delete(m.id)
    if (m.type === 'cover') {
      p.resolve?.(Buffer.from(m.out))
      return
    }
    this.#inFlight -= m.results.length
    this.#batchesOut--
    if (this.#queued > 0) this.#flush()
    const out = Buffer.from(m.out)
    const tags = Buffer.from(m.tags)
    const P = this.#g.packetBytes
    this.#onResults(
      m.results.map((result, i) => ({
        ctx: p.ctx[i]!,
        result,
        bytes: out.subarray(i * P, (i + 1) * P),
        tag: tags.subarray(i * 32, (i + 1) * 32)
      }))
    )
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map(async w => await w.terminate()))
  }
}

/** A client source's bound: at most the whole queue, at least 4 (so that its pause and resume marks differ). */
function perClient(configured: number | undefined, maxQueued: number): number {
  return Math.max(4, Math.min(configured ?? 256, maxQueued))
}
