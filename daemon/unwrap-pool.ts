/**
 * A pool of unwrap workers. Packets are queued and handed to the workers in batches (one
 * transferred buffer per batch, round robin); results come back in submission order per batch.
 * The queue is bounded: beyond `maxQueued` packets waiting or in flight, submit() refuses.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Geometry } from '../mix/index.ts'
import type { WorkerReply, WorkerResult } from './unwrap-protocol.ts'

export interface Unwrapped<C> {
  readonly ctx: C
  readonly result: WorkerResult
  /** The forwarded packet, delivered payload or SURB-reply body (a view into the batch buffer). */
  readonly bytes: Buffer
  readonly tag: Buffer
}

const MAX_BATCH = 64

/**
 * The worker script: the esbuild bundle from `npm run build` (plain JavaScript, about 17 MiB less
 * per worker than loading TypeScript through tsx in every thread), else the tsx entry.
 */
const BUNDLE = new URL('../dist/unwrap-worker.mjs', import.meta.url)
export const WORKER_URL: URL = existsSync(fileURLToPath(BUNDLE)) ? BUNDLE : new URL('./unwrap-worker-entry.mjs', import.meta.url)

export class UnwrapPool<C> {
  readonly #workers: Worker[] = []
  readonly #g: Geometry
  readonly #onResults: (r: Array<Unwrapped<C>>) => void
  readonly #maxQueued: number
  #queue: Array<{ packet: Buffer, ctx: C }> = []
  #inFlight = 0
  #next = 0
  #seq = 0
  #scheduled = false
  readonly #pending = new Map<number, { ctx: C[], resolve?: (b: Buffer) => void }>()

  constructor (o: { workers: number, geometry: Geometry, maxQueued: number, onResults: (r: Array<Unwrapped<C>>) => void }) {
    this.#g = o.geometry
    this.#onResults = o.onResults
    this.#maxQueued = o.maxQueued
    for (let i = 0; i < o.workers; i++) {
      const w = new Worker(WORKER_URL)
      w.on('message', (m: WorkerReply) => this.#reply(m))
      w.on('error', (e) => { throw e })
      this.#workers.push(w)
    }
  }

  async init (o: { binding: string, keys: Uint8Array[], epochs: number[], maxDelayMs: number }): Promise<void> {
    await Promise.all(this.#workers.map(async w => {
      await new Promise<void>((resolve) => {
        const f = (m: WorkerReply): void => { if (m.type === 'ready') { w.off('message', f); resolve() } }
        w.on('message', f)
        w.postMessage({ type: 'init', binding: o.binding, hops: this.#g.hops, userPayloadBytes: this.#g.userPayloadBytes, keys: o.keys, epochs: o.epochs, maxDelayMs: o.maxDelayMs })
      })
    }))
  }

  /** Replace the mix keys in every worker; batches sent after this call use the new set. */
  setKeys (keys: Uint8Array[], epochs: number[]): void {
    for (const w of this.#workers) w.postMessage({ type: 'keys', keys, epochs })
  }

  get backlog (): number { return this.#queue.length + this.#inFlight }

  /** Queue one packet; false when the pool is saturated (the caller counts queue_full). */
  submit (packet: Buffer, ctx: C): boolean {
    if (this.backlog >= this.#maxQueued) return false
    this.#queue.push({ packet, ctx })
    if (!this.#scheduled) { this.#scheduled = true; setImmediate(() => this.#flush()) }
    return true
  }

  #flush (): void {
    this.#scheduled = false
    const P = this.#g.packetBytes
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH)
      const data = Buffer.alloc(batch.length * P)
      batch.forEach((b, i) => b.packet.copy(data, i * P))
      const id = ++this.#seq
      this.#pending.set(id, { ctx: batch.map(b => b.ctx) })
      this.#inFlight += batch.length
      const w = this.#workers[this.#next++ % this.#workers.length]!
      w.postMessage({ type: 'batch', id, count: batch.length, data: data.buffer }, [data.buffer])
    }
  }

  /** Build `count` one-hop cover packets to a neighbour, off the main thread. */
  async cover (count: number, neighborId: string, neighborKey: string): Promise<Buffer> {
    const id = ++this.#seq
    return await new Promise<Buffer>(resolve => {
      this.#pending.set(id, { ctx: [], resolve })
      this.#workers[this.#next++ % this.#workers.length]!.postMessage({ type: 'cover', id, count, neighborId, neighborKey })
    })
  }

  #reply (m: WorkerReply): void {
    if (m.type === 'ready') return
    const p = this.#pending.get(m.id)
    if (p === undefined) return
    this.#pending.delete(m.id)
    if (m.type === 'cover') { p.resolve?.(Buffer.from(m.out)); return }
    this.#inFlight -= m.results.length
    const out = Buffer.from(m.out)
    const tags = Buffer.from(m.tags)
    const P = this.#g.packetBytes
    this.#onResults(m.results.map((result, i) => ({ ctx: p.ctx[i]!, result, bytes: out.subarray(i * P, (i + 1) * P), tag: tags.subarray(i * 32, (i + 1) * 32) })))
  }

  async close (): Promise<void> {
    await Promise.all(this.#workers.map(async w => await w.terminate()))
  }
}
