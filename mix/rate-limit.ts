/**
 * Token buckets per key (a destination, a source), bounded: the least recently used bucket goes
 * first. Pure: the time comes from the caller.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>()

  /** `burst`: the most a quiet key may take at once. @default perMinute */
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys: number,
    private readonly burst = perMinute
  ) {}

  take(key: string, nowMs: number): boolean {
    const b = this.#buckets.get(key) ?? { tokens: this.burst, atMs: nowMs }
    this.#buckets.delete(key)
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.atMs) * this.perMinute) / 60_000)
    b.atMs = nowMs
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.#buckets.set(key, b)
    while (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string)
    return ok
  }
}
