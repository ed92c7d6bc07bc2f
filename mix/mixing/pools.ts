/**
 * The pools of the mixing strategies (docs/PROTOCOL.md §18), pure: the daemon's one timer loop
 * calls round() every intervalMs with the time and a CSPRNG. Pools are bounded; when full, a
 * uniformly random packet (possibly the new one) is dropped, so an attacker who floods cannot
 * choose which packets survive. A document names its strategy; mix/mixing/registry.ts maps the
 * name to its pool.
 */
import type { MixingParams } from '../directory/document.ts'
import type { Rng } from '../rng.ts'

/** A uniform integer in [0, n) by rejection sampling on 32-bit draws. */
export function randomInt(rng: Rng, n: number): number {
  if (n <= 1) return 0
  const limit = Math.floor(0x100000000 / n) * n
  for (;;) {
    const v = rng.bytes(4).readUInt32BE()
    if (v < limit) return v % n
  }
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(a: T[], rng: Rng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a
}

interface Held<T> {
  readonly item: T
  readonly arrivedMs: number
  readonly releaseAtMs: number
}

export interface RoundResult<T> {
  /** What leaves this round, in a uniformly random order. */
  readonly release: T[]
  /** Pool size before the release. */
  readonly poolBefore: number
}

export interface MixStrategy<T> {
  readonly size: number
  readonly capacity: number
  /**
   * A new bound from the next add() on (a reload). Lowering it never drops what is held: adds
   * replace a random held packet while the pool is at or over the bound, as they do at it.
   */
  resize(capacity: number): void
  /** Add a packet; returns the packet dropped to stay within capacity, if any (it may be the new one). */
  add(item: T, nowMs: number, delayMs: number, rng: Rng): T | undefined
  round(nowMs: number, rng: Rng): RoundResult<T>
  /** Everything still held (shutdown: what is lost). */
  drain(): T[]
}

abstract class Pool<T> implements MixStrategy<T> {
  protected held: Array<Held<T>> = []
  #capacity: number
  constructor(
    capacity: number,
    protected readonly p: MixingParams
  ) {
    this.#capacity = capacity
  }
  get capacity(): number {
    return this.#capacity
  }
  resize(capacity: number): void {
    this.#capacity = capacity
  }
  get size(): number {
    return this.held.length
  }

  add(item: T, nowMs: number, delayMs: number, rng: Rng): T | undefined {
    const h: Held<T> = { item, arrivedMs: nowMs, releaseAtMs: nowMs + Math.min(delayMs, this.p.maxDelayMs) }
    if (this.held.length < this.capacity) {
      this.held.push(h)
      return undefined
    }
    const j = randomInt(rng, this.held.length + 1)
    if (j === this.held.length) return item
    const dropped = this.held[j]!.item
    this.held[j] = h
    return dropped
  }

  abstract round(nowMs: number, rng: Rng): RoundResult<T>

  drain(): T[] {
    const all = this.held.map(h => h.item)
    this.held = []
    return all
  }
}

/**
 * Batch with a dynamic pool (Mixminion): release all but max(minPool, n·(1 − flushFraction)),
 * chosen uniformly at random. Round timing never depends on content.
 */
export class BatchPool<T> extends Pool<T> {
  round(_nowMs: number, rng: Rng): RoundResult<T> {
    const n = this.held.length
    const keep = Math.max(this.p.minPool, Math.floor(n * (1 - this.p.flushFraction)))
    const k = Math.max(0, n - keep)
    // Partial Fisher-Yates: the last k slots become a uniform random k-subset in random order.
    for (let i = n - 1; i >= n - k; i--) {
      const j = randomInt(rng, i + 1)
      const t = this.held[i]!
      this.held[i] = this.held[j]!
      this.held[j] = t
    }
    const out = this.held.splice(n - k, k).map(h => h.item)
    return { release: out, poolBefore: n }
  }
}

/**
 * Poisson (Loopix stop-and-go): each packet waits its sender-chosen node_delay, clamped to
 * maxDelayMs; while fewer than minPool packets are held, only packets whose maxDelayMs deadline
 * has passed leave. Output still goes out in rounds.
 */
export class PoissonPool<T> extends Pool<T> {
  round(nowMs: number, rng: Rng): RoundResult<T> {
    const n = this.held.length
    const starved = n < this.p.minPool
    const out: T[] = []
    const keep: Array<Held<T>> = []
    for (const h of this.held) {
      const due = starved ? nowMs >= h.arrivedMs + this.p.maxDelayMs : nowMs >= h.releaseAtMs
      if (due) out.push(h.item)
      else keep.push(h)
    }
    this.held = keep
    return { release: shuffle(out, rng), poolBefore: n }
  }
}
