/**
 * The SURBs a client has handed out and not yet seen come back: the decryption token of each and
 * what it was for. Bounded: the oldest is forgotten first; entries expire after `ttlMs`.
 */
export type SurbUse =
  | { readonly kind: 'ack'; readonly messageId: string; readonly index: number }
  | { readonly kind: 'loop' }

interface Entry {
  readonly token: Buffer
  readonly use: SurbUse
  readonly createdMs: number
}

export class SurbTable {
  readonly #entries = new Map<string, Entry>()

  constructor(
    private readonly max: number,
    private readonly ttlMs: number
  ) {}

  get size(): number {
    return this.#entries.size
  }

  add(surbId: Buffer, token: Buffer, use: SurbUse, nowMs: number): void {
    this.expire(nowMs)
    while (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(surbId.toString('hex'), { token, use, createdMs: nowMs })
  }

  /** Single use: the entry is removed. */
  take(surbId: Buffer): Entry | undefined {
    const k = surbId.toString('hex')
    const e = this.#entries.get(k)
    if (e !== undefined) this.#entries.delete(k)
    return e
  }

  expire(nowMs: number): void {
    for (const [k, e] of this.#entries) {
      if (nowMs - e.createdMs < this.ttlMs) break
      this.#entries.delete(k)
    }
  }
}
