/**
 * The retry schedule of every outbound link (the programs' daemon/io/link.ts and the SDK's
 * client/link.ts): the first wait is `minMs`, each
 * next one twice the last, up to `maxMs`; each is stretched by up to RETRY_JITTER so that links
 * lost together (a neighbour restarts) do not all dial again at once, and none is shorter than
 * `minMs`. A link that comes up starts over.
 */
export const RETRY_JITTER = 0.2

export interface RetryPolicy {
  readonly minMs: number
  readonly maxMs: number
}

export class Backoff {
  readonly #p: RetryPolicy
  readonly #random: () => number
  #nextMs: number

  /** `random`: uniform in [0, 1), for the jitter (injected: mix/ has no ambient randomness). */
  constructor(p: RetryPolicy, random: () => number) {
    this.#p = p
    this.#random = random
    this.#nextMs = p.minMs
  }

  /** The wait before the next try. */
  next(): number {
    const wait = this.#nextMs * (1 + this.#random() * RETRY_JITTER)
    this.#nextMs = Math.min(this.#p.maxMs, Math.max(this.#p.minMs, this.#nextMs * 2))
    return wait
  }

  /** The link is up: the next loss waits `minMs` again. */
  reset(): void {
    this.#nextMs = this.#p.minMs
  }
}
