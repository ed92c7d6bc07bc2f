/**
 * An authority's held descriptors of one kind (relays, or ingresses): verified, each with the time
 * it arrived, at most `perIdentity` per id (the oldest goes) and `cap` in all (the oldest goes).
 * An index by id keeps taking a descriptor independent of how many are held.
 */
export interface HeldEntry<T> {
  readonly d: T
  readonly at: number
}

export class Held<T extends { readonly descriptor: { readonly id: string }; readonly signature: string }> {
  /** By `id:signature`, in arrival order. */
  readonly #all = new Map<string, HeldEntry<T>>()
  /** Keys of each id, oldest first. */
  readonly #byId = new Map<string, string[]>()

  constructor(
    private readonly perIdentity: number,
    private readonly cap: number
  ) {}

  get size(): number {
    return this.#all.size
  }
  get ids(): string[] {
    return [...this.#byId.keys()]
  }
  values(): IterableIterator<HeldEntry<T>> {
    return this.#all.values()
  }

  /** Keep `d` (already verified); 'known' when these exact bytes are held. */
  add(d: T, at: number): 'new' | 'known' {
    const id = d.descriptor.id
    const key = `${id}:${d.signature}`
    if (this.#all.has(key)) return 'known'
    const mine = this.#byId.get(id) ?? []
    while (mine.length >= this.perIdentity) this.#all.delete(mine.shift()!)
    mine.push(key)
    this.#byId.set(id, mine)
    this.#all.set(key, { d, at })
    while (this.#all.size > this.cap) this.#delete(this.#all.keys().next().value as string)
    return 'new'
  }

  /** Drop every entry `drop` says; how many went. */
  prune(drop: (e: HeldEntry<T>) => boolean): number {
    let n = 0
    for (const [k, e] of this.#all)
      if (drop(e)) {
        this.#delete(k)
        n++
      }
    return n
  }

  #delete(key: string): void {
    const e = this.#all.get(key)
    if (e === undefined) return
    this.#all.delete(key)
    const id = e.d.descriptor.id
    const rest = (this.#byId.get(id) ?? []).filter(k => k !== key)
    if (rest.length === 0) this.#byId.delete(id)
    else this.#byId.set(id, rest)
  }
}
