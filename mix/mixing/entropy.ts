/**
 * Live estimate of the anonymity a pool gives its outputs (after Loopix, appendix A): the Shannon
 * entropy, in bits, of a global passive adversary's posterior over inputs for one output of this
 * round. The adversary sees when every input arrived and how many packets each round released; an
 * input that arrived before round s is still pooled at round t with probability
 * S = Π (1 − released_r / pool_r) over the rounds r it sat through, and each pooled packet is
 * equally likely to be any given output, so P(input) = S / pool_t. Inputs are grouped by arrival
 * round; groups whose survival falls below 1e-9 are forgotten (bounded memory).
 */
interface Group {
  count: number
  survival: number
}

export class PoolEntropy {
  #groups: Group[] = []
  #arrivals = 0
  #last = 0

  /** Count a packet entering the pool during the current round. */
  arrive(n = 1): void {
    this.#arrivals += n
  }

  /**
   * Close a round: `poolBefore` packets were held when it started releasing, `released` left.
   * Returns the estimated entropy in bits of one output of this round (0 if nothing left).
   */
  round(poolBefore: number, released: number): number {
    if (this.#arrivals > 0) this.#groups.push({ count: this.#arrivals, survival: 1 })
    this.#arrivals = 0
    let h = 0
    if (released > 0 && poolBefore > 0) {
      // Normalise by the expected pool, so the estimate stays a distribution under drops and cover.
      let mass = 0
      for (const g of this.#groups) mass += g.count * g.survival
      for (const g of this.#groups) {
        if (g.survival <= 0) continue
        const p = g.survival / mass
        h -= g.count * p * Math.log2(p)
      }
    }
    const keep = poolBefore > 0 ? 1 - released / poolBefore : 1
    for (const g of this.#groups) g.survival *= keep
    this.#groups = this.#groups.filter(g => g.survival > 1e-9)
    this.#last = h
    return h
  }

  get lastBits(): number {
    return this.#last
  }
}
