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
 * - Packets are handed to the workers through one shared-memory ring each (ring.ts), of
 *   RING_SLOTS slots: at most that many per worker are past the queue at once, so the order above is
 *   the order of work (otherwise everything would wait, first come first served, in the workers).
 *   A full ring leaves packets in the queue, whose bounds above are the back-pressure.
 * - Wake-ups: a worker drains its whole ring per wake-up, and one that is awake takes new packets
 *   without one; the main thread is woken once per batch of results (ring.ts's ResultBell).
 * Results come back in batches, each ring's in its order.
 * setLimits (a reload) changes both bounds while packets wait: nothing waiting is dropped for it;
 * above a lower bound, new packets are refused (or make room, as above) until the queue is under it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import type { Geometry } from '../../../mix/index.ts'
import { projectRoot } from '../../io/index.ts'
import { drop } from '../drops.ts'
import type { RelayMetrics } from '../metrics.ts'
import { readResult, type SlotLayout, slotLayout, type WorkerReply, type WorkerResult } from './protocol.ts'
import { pick, ResultBell, RING_SLOTS, Ring } from './ring.ts'

export interface Unwrapped<C> {
  readonly ctx: C
  readonly result: WorkerResult
  /** The forwarded packet, delivered payload or SURB-reply body (a view into a copy made per batch, not into the ring). */
  readonly bytes: Buffer
  readonly tag: Buffer
}

/** Where packets come from: a connection; pause() and resume() are used for client sources. */
export interface Source {
  pause?: () => void
  resume?: () => void
}
export type Lane = 'peer' | 'client'

/** Packets taken from the queue per round-robin pass (each lane gets half when both wait). */
const MAX_BATCH = 64
/** A one-hop cover packet's making, in unwraps (about 2: it takes two X25519 and the body's encryption). */
const COVER_WORTH = 2
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
  /** Per worker: its ring, the port for its messages, and each slot's context (RING_SLOTS entries). */
  readonly #rings: Ring[] = []
  readonly #ports: MessagePort[] = []
  readonly #ctx: Array<Array<C | undefined>> = []
  readonly #bell = new ResultBell()
  readonly #L: SlotLayout
  /** The key set written into each packet's slot (setKeys counts it up). */
  #gen = 0
  #closed = false
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
  #seq = 0
  #scheduled = false
  /** Cover requests handed to the workers: one per neighbour refill. */
  readonly #pending = new Map<number, { worker: number; work: number; resolve: (b: Buffer) => void }>()
  /**
   * Per worker, the cover packets it has been asked for and not yet returned, in unwraps' worth:
   * packets go to the other workers meanwhile rather than wait behind a refill (pick()).
   */
  readonly #busy: number[] = []

  constructor(o: {
    workers: number
    geometry: Geometry
    maxQueued: number
    maxQueuedPerClient?: number
    metrics?: RelayMetrics
    onResults: (r: Array<Unwrapped<C>>) => void
  }) {
    this.#g = o.geometry
    this.#L = slotLayout(o.geometry.packetBytes)
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
      this.#rings.push(Ring.create(RING_SLOTS, this.#L.bytes))
      this.#busy.push(0)
      this.#ctx.push(new Array<C | undefined>(RING_SLOTS).fill(undefined))
    }
  }

  async init(o: { binding: string; keys: Uint8Array[]; epochs: number[]; maxDelayMs: number }): Promise<void> {
    await Promise.all(
      this.#workers.map(async (w, i) => {
        const { port1, port2 } = new MessageChannel()
        this.#ports.push(port1)
        await new Promise<void>(resolve => {
          const f = (m: WorkerReply): void => {
            if (m.type === 'ready') {
              w.off('message', f)
              resolve()
            }
          }
          w.on('message', f)
          w.postMessage(
            {
              type: 'init',
              binding: o.binding,
              hops: this.#g.hops,
              userPayloadBytes: this.#g.userPayloadBytes,
              keys: o.keys,
              epochs: o.epochs,
              maxDelayMs: o.maxDelayMs,
              ring: this.#rings[i]!.shared,
              bell: this.#bell.shared,
              control: port2
            },
            [port2]
          )
        })
      })
    )
    this.#wait()
  }

  /** New bounds, for the next packet submitted (a paused client is resumed by its next turn under the new quarter). */
  setLimits(o: { maxQueued: number; maxQueuedPerClient?: number }): void {
    this.#maxQueued = o.maxQueued
    this.#perClient = perClient(o.maxQueuedPerClient, o.maxQueued)
  }

  /** Replace the mix keys in every worker; packets handed over after this call use the new set. */
  setKeys(keys: Uint8Array[], epochs: number[]): void {
    this.#gen = (this.#gen + 1) >>> 0
    this.#ports.forEach((p, i) => {
      p.postMessage({ type: 'keys', keys, epochs, gen: this.#gen })
      this.#rings[i]!.control()
    })
  }

  /** Packets waiting or in the workers. */
  get backlog(): number {
    let n = this.#queued
    for (const r of this.#rings) n += r.inFlight()
    return n
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
    const rings = this.#rings
    const written = rings.map(() => 0)
    let room = 0
    for (const r of rings) room += r.room()
    while (this.#queued > 0 && room > 0) {
      const batch: Array<{ packet: Buffer; ctx: C }> = []
      const max = Math.min(MAX_BATCH, room)
      // Half for each lane when both wait; whatever one leaves, the other may take.
      this.#take(peer, batch, max >> 1)
      this.#take(client, batch, max)
      this.#take(peer, batch, max)
      if (batch.length === 0) break
      for (const b of batch) {
        // Never -1: the batch is no larger than the room of all rings.
        const i = pick(rings, written, this.#busy)
        const r = rings[i]!
        const n = (r.tail + written[i]!) | 0
        const slot = r.slot(n)
        b.packet.copy(slot, 0, 0, P)
        slot.writeUInt32LE(this.#gen, this.#L.gen)
        this.#ctx[i]![n & (RING_SLOTS - 1)] = b.ctx
        written[i]!++
      }
      room -= batch.length
    }
    written.forEach((n, i) => {
      if (n > 0) rings[i]!.publish(n)
    })
  }

  /** Build `count` one-hop cover packets to a neighbour, off the main thread, on the least busy worker. */
  async cover(count: number, neighborId: string, neighborKey: string): Promise<Buffer> {
    const id = ++this.#seq
    let i = 0
    this.#rings.forEach((r, j) => {
      if (r.pending() + this.#busy[j]! < this.#rings[i]!.pending() + this.#busy[i]!) i = j
    })
    const work = count * COVER_WORTH
    this.#busy[i]! += work
    return await new Promise<Buffer>(resolve => {
      this.#pending.set(id, { worker: i, work, resolve })
      this.#ports[i]!.postMessage({ type: 'cover', id, count, neighborId, neighborKey })
      this.#rings[i]!.control()
    })
  }

  #reply(m: WorkerReply): void {
    if (m.type !== 'cover') return
    const p = this.#pending.get(m.id)
    if (p === undefined) return
    this.#pending.delete(m.id)
    this.#busy[p.worker]! -= p.work
    p.resolve(Buffer.from(m.out))
  }

  /** Wait for the next batch of results (the bell is armed only once every result is read). */
  #wait(): void {
    while (!this.#closed && !this.#bell.arm(() => this.#rings.some(r => r.results() > 0), this.#woken)) this.#collect()
  }
  readonly #woken = (): void => {
    if (this.#closed) return
    this.#collect()
    this.#wait()
  }

  /** Read every result the workers have handed back, free their slots, refill them, then route the results. */
  #collect(): void {
    const P = this.#g.packetBytes
    const L = this.#L
    const got: Array<Unwrapped<C>> = []
    this.#rings.forEach((r, i) => {
      const n = r.results()
      if (n <= 0) return
      const ctx = this.#ctx[i]!
      // Copied out of the ring, whose slots are reused: the router may keep what it is given.
      const out = Buffer.allocUnsafe(n * P)
      const tags = Buffer.allocUnsafe(n * 32)
      const from = r.done
      for (let k = 0; k < n; k++) {
        const c = (from + k) | 0
        const slot = r.slot(c)
        slot.copy(out, k * P, 0, P)
        slot.copy(tags, k * 32, L.tag, L.tag + 32)
        const j = c & (RING_SLOTS - 1)
        got.push({
          ctx: ctx[j]!,
          result: readResult(slot, L),
          bytes: out.subarray(k * P, (k + 1) * P),
          tag: tags.subarray(k * 32, (k + 1) * 32)
        })
        ctx[j] = undefined
      }
      r.release(n)
    })
    if (this.#queued > 0) this.#flush()
    if (got.length > 0) this.#onResults(got)
  }

  async close(): Promise<void> {
    this.#closed = true
    // Settle the pending Atomics.waitAsync, which nothing else would.
    this.#bell.release()
    await Promise.all(this.#workers.map(async w => await w.terminate()))
  }
}

/** A client source's bound: at most the whole queue, at least 4 (so that its pause and resume marks differ). */
function perClient(configured: number | undefined, maxQueued: number): number {
  return Math.max(4, Math.min(configured ?? 256, maxQueued))
}
