/**
 * Replay filter for one mix key: a Bloom filter over replay tags. Tags are SHA-512/256 outputs, so
 * their bytes already are independent uniform hashes; the k probe positions come from double
 * hashing two 32-bit words of the tag. No false negatives, so zero replays get through; false
 * positives (a fresh packet taken for a replay) happen at about `falsePositiveRate` once the filter
 * holds `capacity` tags. When it holds `capacity` tags it is full and the caller fails closed.
 */
import { MixError } from './errors.ts'

export class ReplayFilter {
  readonly capacity: number
  readonly bits: number
  readonly hashes: number
  readonly #words: Uint32Array
  #count = 0

  constructor(capacity: number, falsePositiveRate: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw MixError.BAD_ARGUMENT(`capacity must be a positive integer (got ${String(capacity)})`)
    if (!(falsePositiveRate > 0 && falsePositiveRate < 0.5))
      throw MixError.BAD_ARGUMENT(`falsePositiveRate must be in (0, 0.5) (got ${String(falsePositiveRate)})`)
    const m = Math.ceil((-capacity * Math.log(falsePositiveRate)) / (Math.LN2 * Math.LN2))
    this.capacity = capacity
    this.bits = Math.ceil(m / 32) * 32
    this.hashes = Math.max(1, Math.round((this.bits / capacity) * Math.LN2))
    this.#words = new Uint32Array(this.bits / 32)
  }

  /** Bytes of memory the bit array takes. */
  get byteLength(): number {
    return this.#words.byteLength
  }
  get count(): number {
    return this.#count
  }
  get full(): boolean {
    return this.#count >= this.capacity
  }

  #positions(tag: Uint8Array, f: (bit: number) => boolean): boolean {
    const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength)
    const h1 = v.getUint32(0)
    const h2 = (v.getUint32(4) | 1) >>> 0 // odd, and unsigned: `|` yields a signed int32
    for (let i = 0; i < this.hashes; i++) {
      // all terms are below 2^38, exact in a double
      const bit = (h1 + i * h2 + v.getUint32(8 + (i % 6) * 4)) % this.bits
      if (!f(bit)) return false
    }
    return true
  }

  has(tag: Uint8Array): boolean {
    return this.#positions(tag, bit => (this.#words[bit >>> 5]! & (1 << (bit & 31))) !== 0)
  }

  /** Insert; returns false if the tag was (probably) present already. Does not check `full`. */
  add(tag: Uint8Array): boolean {
    let fresh = false
    this.#positions(tag, bit => {
      const w = bit >>> 5
      const mask = 1 << (bit & 31)
      if ((this.#words[w]! & mask) === 0) {
        fresh = true
        this.#words[w] = this.#words[w]! | mask
      }
      return true
    })
    if (fresh) this.#count++
    return fresh
  }

  /** Wipe (key erasure: the filter dies with its key). */
  clear(): void {
    this.#words.fill(0)
    this.#count = 0
  }
}
