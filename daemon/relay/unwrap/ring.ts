/**
 * A single-producer, single-consumer ring of fixed-size slots in shared memory, between the main
 * thread and one unwrap worker: the main thread writes a packet into a slot, the worker unwraps it
 * and writes the result into the same slot, and the main thread reads the result and frees the
 * slot. No message is posted per packet, nothing is copied by structured clone, and a thread is
 * woken only when it sleeps (a worker that is busy finds the next slot without a wake-up).
 *
 * Three counters, each written by one thread only, say where every slot is:
 *   done <= head <= tail <= done + capacity
 *   [done, head)  unwrapped, results waiting for the main thread
 *   [head, tail)  packets waiting for (or in) the worker
 *   [tail, done + capacity)  free
 * `tail` and `done` are the main thread's, `head` the worker's. Counters are int32 and wrap around:
 * every distance is taken modulo 2^32 (`| 0`), and a slot is `counter & (capacity - 1)`, so the
 * capacity is a power of two. A slot is written before the counter that hands it over is stored
 * (Atomics.store is sequentially consistent), so whoever sees the counter sees the slot.
 *
 * Wake-ups: the worker sleeps on `bell` (Atomics.wait: a worker may block); the main thread rings
 * it after handing over slots or posting a control message. The main thread is woken through the
 * pool's shared result bell (ResultBell below), once per batch of results.
 */

/**
 * Slots of each unwrap worker's ring (a power of two): packets past the pool's fair queue at once,
 * per worker. 128 unwraps are about 15 ms of work, so a worker never waits for a busy main thread
 * to refill it; more would put back the first-come-first-served queue the pool's queue replaces.
 * With the relay's 2,688-byte slots, 336 KiB per worker, allocated at start.
 */
export const RING_SLOTS = 128
/**
 * Results a worker hands back before it rings the main thread while more packets wait: the main
 * thread is woken once per batch, and the first of a long batch does not wait for the last (8
 * unwraps: about 1 ms).
 */
export const RING_EVERY = 8
/**
 * Packets a worker may have waiting before the next worker is given any (pick()): at low rates one
 * worker takes everything, awake, and the others sleep (no wake-up per packet); 8 unwraps are
 * about 1 ms.
 */
export const SPREAD = 8

/** Int32 words of the header. The main thread's words share one cache line, the worker's another. */
const TAIL = 0
const DONE = 1
const BELL = 2
/** Control messages posted to the worker (keys, cover requests): it reads its port when this changes. */
const CONTROL = 3
const HEAD = 16
const HEADER_BYTES = 128

/** What a ring is made of, sent to its worker once (SharedArrayBuffers are shared, not copied). */
export interface RingShared {
  readonly header: SharedArrayBuffer
  readonly slots: SharedArrayBuffer
  readonly capacity: number
  readonly slotBytes: number
}

export class Ring {
  readonly capacity: number
  readonly slotBytes: number
  readonly shared: RingShared
  readonly #h: Int32Array
  readonly #mask: number
  /** One view per slot, made once: `capacity` Buffers, whatever the traffic. */
  readonly #views: Buffer[]

  /**
   * A new ring of `capacity` slots (a power of two) of `slotBytes` each. `start` sets every
   * counter (tests start near 2^31 to cross the int32 wrap).
   */
  static create<R extends Ring>(
    this: new (
      shared: RingShared
    ) => R,
    capacity: number,
    slotBytes: number,
    start = 0
  ): R {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 30 || (capacity & (capacity - 1)) !== 0)
      throw new RangeError(`ring capacity ${capacity} is not a power of two`)
    const header = new SharedArrayBuffer(HEADER_BYTES)
    const h = new Int32Array(header)
    for (const w of [TAIL, DONE, HEAD]) h[w] = start | 0
    return new this({ header, slots: new SharedArrayBuffer(capacity * slotBytes), capacity, slotBytes })
  }

  /** The same ring seen from the worker's thread. */
  constructor(shared: RingShared) {
    this.shared = shared
    this.capacity = shared.capacity
    this.slotBytes = shared.slotBytes
    this.#h = new Int32Array(shared.header)
    this.#mask = shared.capacity - 1
    this.#views = Array.from({ length: shared.capacity }, (_, i) =>
      Buffer.from(shared.slots, i * shared.slotBytes, shared.slotBytes)
    )
  }

  /** The slot of counter `n` (a view into shared memory: valid until the slot is handed on). */
  slot(n: number): Buffer {
    return this.#views[n & this.#mask]!
  }

  // The main thread: producer of packets, consumer of results.

  /** Counter of the next free slot to write (then publish). */
  get tail(): number {
    return Atomics.load(this.#h, TAIL)
  }
  /** Slots free for new packets. */
  room(): number {
    return this.capacity - ((Atomics.load(this.#h, TAIL) - Atomics.load(this.#h, DONE)) | 0)
  }
  /** Hand the next `n` written slots to the worker, and wake it if it sleeps. */
  publish(n: number): void {
    Atomics.store(this.#h, TAIL, (Atomics.load(this.#h, TAIL) + n) | 0)
    this.ring()
  }
  /** Counter of the oldest result not yet read. */
  get done(): number {
    return Atomics.load(this.#h, DONE)
  }
  /** Results ready to read, from `done` on. */
  results(): number {
    return (Atomics.load(this.#h, HEAD) - Atomics.load(this.#h, DONE)) | 0
  }
  /** The next `n` results have been read: their slots are free. */
  release(n: number): void {
    Atomics.store(this.#h, DONE, (Atomics.load(this.#h, DONE) + n) | 0)
  }
  /** Packets handed over and not yet read back (in the worker or waiting for the main thread). */
  inFlight(): number {
    return (Atomics.load(this.#h, TAIL) - Atomics.load(this.#h, DONE)) | 0
  }
  /** Tell the worker that a control message was posted to it, and wake it. */
  control(): void {
    Atomics.add(this.#h, CONTROL, 1)
    this.ring()
  }
  /** Wake the worker if it sleeps on the bell (a bump it has not seen yet keeps it from sleeping). */
  ring(): void {
    Atomics.add(this.#h, BELL, 1)
    Atomics.notify(this.#h, BELL, 1)
  }

  // The worker: consumer of packets, producer of results.

  /** Counter of the next packet to unwrap. */
  get head(): number {
    return Atomics.load(this.#h, HEAD)
  }
  /** Packets waiting for the worker, from `head` on. */
  pending(): number {
    return (Atomics.load(this.#h, TAIL) - Atomics.load(this.#h, HEAD)) | 0
  }
  /** The packet at `head` has its result written: hand it back. */
  finish(): void {
    Atomics.store(this.#h, HEAD, (Atomics.load(this.#h, HEAD) + 1) | 0)
  }
  /** The bell's value: read before looking for work, then passed to sleep(). */
  bell(): number {
    return Atomics.load(this.#h, BELL)
  }
  /** Control messages posted so far. */
  controls(): number {
    return Atomics.load(this.#h, CONTROL)
  }
  /** Block until the bell moves on from `seen` (returns at once if it already has). */
  sleep(seen: number): void {
    Atomics.wait(this.#h, BELL, seen)
  }
}

/** Atomics.waitAsync (ES2024, in Node since 16), which tsconfig.json's ES2022 library does not declare. */
interface WaitAsync {
  waitAsync(
    a: Int32Array,
    index: number,
    value: number
  ): { async: false; value: string } | { async: true; value: Promise<string> }
}

/**
 * The main thread's wake-up, shared by all of a pool's rings: the main thread arms it when it has
 * read every result, and waits on it with Atomics.waitAsync (the main thread must not block); a
 * worker that hands back results rings it only while it is armed, so a main thread already awake
 * is not woken again, and one wake-up serves every result handed back in the meantime.
 */
export class ResultBell {
  static readonly BYTES = 8
  readonly #h: Int32Array
  constructor(readonly shared: SharedArrayBuffer = new SharedArrayBuffer(ResultBell.BYTES)) {
    this.#h = new Int32Array(shared)
  }

  /** Worker: results were handed back; wake the main thread if it waits. */
  ring(): void {
    if (Atomics.exchange(this.#h, 1, 0) === 1) {
      Atomics.add(this.#h, 0, 1)
      Atomics.notify(this.#h, 0)
    }
  }

  /**
   * Main thread: arm, then call `check`; if it found nothing, wait for a ring and call `woken`.
   * A result handed back after the arm either is seen by `check` or rings the bell, so none is
   * left unread. Returns false when `check` found work (the caller reads it and arms again).
   */
  arm(check: () => boolean, woken: () => void): boolean {
    Atomics.store(this.#h, 1, 1)
    const seen = Atomics.load(this.#h, 0)
    if (check()) {
      Atomics.store(this.#h, 1, 0)
      return false
    }
    const w = (Atomics as unknown as WaitAsync).waitAsync(this.#h, 0, seen)
    if (!w.async) return false
    void w.value.then(woken)
    return true
  }

  /** Main thread: settle its own pending wait (at close: nothing else would). */
  release(): void {
    Atomics.add(this.#h, 0, 1)
    Atomics.notify(this.#h, 0)
  }
}

/**
 * Main thread: the ring for the next packet, given the packets already written (not yet
 * published) to each, and other work each worker has been given (`busy`, in unwraps' worth): the
 * first ring whose worker has fewer than SPREAD waiting, else the one with the fewest waiting; only
 * rings with room. -1 when none has room.
 */
export function pick(rings: readonly Ring[], written: readonly number[], busy?: readonly number[]): number {
  let best = -1
  let least = Number.POSITIVE_INFINITY
  for (let i = 0; i < rings.length; i++) {
    const r = rings[i]!
    if (r.room() - written[i]! <= 0) continue
    const waiting = r.pending() + written[i]! + (busy?.[i] ?? 0)
    if (waiting < SPREAD) return i
    if (waiting < least) {
      least = waiting
      best = i
    }
  }
  return best
}

/**
 * Worker: serve a ring for ever. Per wake-up, every waiting packet goes through `each` (which
 * writes its result into its slot), and the main thread is rung every RING_EVERY results and at
 * the end; `poll` runs before each packet and each sleep (for the worker's messages), `idle`
 * before each sleep.
 */
export function serve(
  ring: Ring,
  bell: ResultBell,
  o: { each: (slot: Buffer) => void; poll?: () => void; idle?: () => void }
): never {
  for (;;) {
    // The bell is read before looking: a packet handed over after this keeps sleep() from blocking.
    const seen = ring.bell()
    o.poll?.()
    let n = ring.pending()
    if (n === 0) {
      o.idle?.()
      ring.sleep(seen)
      continue
    }
    let handed = 0
    for (; n > 0; n--) {
      o.each(ring.slot(ring.head))
      ring.finish()
      if (++handed === RING_EVERY) {
        bell.ring()
        handed = 0
      }
      o.poll?.()
    }
    if (handed > 0) bell.ring()
  }
}
