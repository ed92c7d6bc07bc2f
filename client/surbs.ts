/**
 * The SURBs a client has handed out and not yet seen come back: the decryption token of each and
 * what it was for. Bounded: the oldest is forgotten first; entries expire after `ttlMs`.
 *
 * Every entry that comes or goes is told to an optional listener, after the change, so that the
 * SDK can keep the ones a restart must not lose (client/store.ts); `restore` takes them back.
 */
export type SurbUse =
  | { readonly kind: 'ack'; readonly messageId: string; readonly index: number }
  | { readonly kind: 'loop' }

export interface SurbEntry {
  readonly token: Buffer
  readonly use: SurbUse
  readonly createdMs: number
}

/** An entry as kept across a restart: its SURB id (hex) with the entry. */
export interface SurbRecord extends SurbEntry {
  readonly id: string
}

export interface SurbListener {
  added(id: string, e: SurbEntry): void
  /** Taken (it came back), expired or forgotten for room. */
  removed(id: string, e: SurbEntry): void
}

export class SurbTable {
  /** Bound: `max` entries; insertion order is creation order, which expire() relies on. */
  readonly #entries = new Map<string, SurbEntry>()

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly listener?: SurbListener
  ) {}

  get size(): number {
    return this.#entries.size
  }

  add(surbId: Buffer, token: Buffer, use: SurbUse, nowMs: number): void {
    this.expire(nowMs)
    while (this.#entries.size >= this.max) this.#drop(this.#entries.keys().next().value as string)
    const id = surbId.toString('hex')
    const e: SurbEntry = { token, use, createdMs: nowMs }
    this.#entries.set(id, e)
    this.listener?.added(id, e)
  }

  /**
   * Take back entries a previous run kept. Kept in creation order; those expired by `nowMs` and
   * the oldest beyond `max` are dropped (and told to the listener as removed).
   */
  restore(records: readonly SurbRecord[], nowMs: number): void {
    const sorted = [...records].sort((a, b) => a.createdMs - b.createdMs)
    for (const r of sorted) {
      const e: SurbEntry = { token: r.token, use: r.use, createdMs: r.createdMs }
      if (this.#entries.has(r.id)) continue
      if (nowMs - r.createdMs >= this.ttlMs) {
        this.listener?.removed(r.id, e)
        continue
      }
      this.#entries.set(r.id, e)
    }
    while (this.#entries.size > this.max) this.#drop(this.#entries.keys().next().value as string)
  }

  /** Single use: the entry is removed. */
  take(surbId: Buffer): SurbEntry | undefined {
    const k = surbId.toString('hex')
    const e = this.#entries.get(k)
    if (e !== undefined) this.#drop(k)
    return e
  }

  expire(nowMs: number): void {
    for (const [k, e] of this.#entries) {
      if (nowMs - e.createdMs < this.ttlMs) break
      this.#drop(k)
    }
  }

  #drop(k: string): void {
    const e = this.#entries.get(k)
    if (e === undefined) return
    this.#entries.delete(k)
    this.listener?.removed(k, e)
  }
}
