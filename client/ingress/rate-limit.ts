/** Token buckets per destination (messages per minute), bounded: the least recently used bucket goes first. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number, atMs: number }>()

  constructor (private readonly perMinute: number, private readonly maxKeys: number) {}

  take (key: string, nowMs: number): boolean {
    const b = this.#buckets.get(key) ?? { tokens: this.perMinute, atMs: nowMs }
    this.#buckets.delete(key)
    b.tokens = Math.min(this.perMinute, b.tokens + (nowMs - b.atMs) * this.perMinute / 60_000)
    b.atMs = nowMs
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.#buckets.set(key, b)
    while (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string)
    return ok
  }
}
