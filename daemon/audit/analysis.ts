/**
 * What a global passive adversary learns from one relay's traffic (issue 7), pure: no I/O, clock
 * or ambient randomness. Input: every packet in (time, link) and every packet out (time, link,
 * size), plus the ground truth of which input became which output, used only to score guesses.
 *
 * The adversary is made stronger than a real one: it is told which outputs are real (not cover)
 * and the mixing strategy. It groups outputs into rounds by their bursts, tracks the pool size
 * n_r and the real releases k_r of every round, and computes the exact posterior of the batch
 * strategy (every held packet leaves round r with probability k_r / n_r, independently of its
 * age). Chance is 1 / n_r: a guess uniform over the packets held, which a genie knowing the pool
 * would make. A mix that works leaves every adversary at or below chance.
 */

export interface InEvent { readonly t: number, readonly link: number }
export interface OutEvent { readonly t: number, readonly link: number, readonly size: number, /** index of the input it came from; null for cover */ readonly source: number | null }

export interface Round { readonly t: number, readonly outputs: number[] }

/** Group output indices (sorted by time) into rounds: a gap over `gapMs` starts a new round. */
export function roundsOf (outs: readonly OutEvent[], gapMs: number): Round[] {
  const idx = outs.map((_, i) => i).sort((a, b) => outs[a]!.t - outs[b]!.t)
  const rounds: Round[] = []
  let cur: number[] = []
  let start = -Infinity
  let last = -Infinity
  for (const i of idx) {
    const t = outs[i]!.t
    if (t - last > gapMs && cur.length > 0) { rounds.push({ t: start, outputs: cur }); cur = [] }
    if (cur.length === 0) start = t
    cur.push(i)
    last = t
  }
  if (cur.length > 0) rounds.push({ t: start, outputs: cur })
  return rounds
}

export interface OutputScore {
  readonly entropyBits: number
  readonly idealPoolBits: number
  readonly idealBatchBits: number
  readonly chance: number
  /** Success of each guess: FIFO and nearest are right or wrong; ML is the expected success of a uniform choice among its tied best candidates. */
  readonly hit: { readonly ml: number, readonly fifo: boolean, readonly nearest: boolean }
}

export interface Linkability {
  readonly outputs: number
  readonly meanEntropyBits: number
  readonly p5EntropyBits: number
  readonly idealPoolBits: number
  readonly idealBatchBits: number
  readonly chance: number
  readonly success: { readonly ml: number, readonly fifo: number, readonly nearest: number }
  readonly successOverChance: { readonly ml: number, readonly fifo: number, readonly nearest: number }
}

function entropy (w: readonly number[]): number {
  const s = w.reduce((a, b) => a + b, 0)
  let h = 0
  for (const x of w) if (x > 0) { const p = x / s; h -= p * Math.log2(p) }
  return h
}

/** The indices that share the largest weight (the ML guess is uniform among them). */
function argmaxTies (w: readonly number[]): Set<number> {
  const best = Math.max(...w)
  const ties = new Set<number>()
  w.forEach((x, i) => { if (x >= best * (1 - 1e-9)) ties.add(i) })
  return ties
}

/**
 * Score every real output. `marginMs`: an input must have arrived this long before a round's
 * first output to count as held in that round (the relay takes its snapshot, commits, then sends).
 */
export function linkability (ins: readonly InEvent[], outs: readonly OutEvent[], o: { gapMs: number, marginMs: number, warmupMs?: number }): Linkability {
  const order = ins.map((_, i) => i).sort((a, b) => ins[a]!.t - ins[b]!.t)
  const realOuts = outs.map((x, i) => ({ ...x, i })).filter(x => x.source !== null)
  const rounds = roundsOf(realOuts, o.gapMs)
  // Survival weight of each arrived input: the product of (1 - k_r/n_r) over rounds since it came.
  const weight = new Map<number, number>()
  // FIFO pairs the m-th real output with the m-th input; nearest-in-time takes the latest input
  // that arrived before the round and that it has not used yet.
  let fifoNext = 0
  const usedNearest = new Set<number>()
  let next = 0
  let released = 0
  const scores: OutputScore[] = []
  const t0 = (ins.length > 0 ? ins[order[0]!]!.t : 0) + (o.warmupMs ?? 0)
  for (const r of rounds) {
    while (next < order.length && ins[order[next]!]!.t <= r.t - o.marginMs) { weight.set(order[next]!, 1); next++ }
    const k = r.outputs.length
    // Packets held before this round: arrived minus released (the adversary counts both).
    const n = Math.max(k, next - released)
    released += k
    if (weight.size === 0) continue
    const cands = [...weight.keys()]
    const w = cands.map(c => weight.get(c)!)
    const h = entropy(w)
    const ties = argmaxTies(w)
    const nearQueue = order.slice(0, next).filter(c => !usedNearest.has(c)).reverse()
    r.outputs.forEach((oi, j) => {
      const src = realOuts[oi]!.source!
      const fifo = order[fifoNext++] ?? -1
      const nearest = nearQueue[j] ?? -1
      if (nearest >= 0) usedNearest.add(nearest)
      if (r.t < t0) return
      const srcAt = cands.indexOf(src)
      scores.push({ entropyBits: h, idealPoolBits: Math.log2(n), idealBatchBits: Math.log2(k), chance: 1 / n, hit: { ml: ties.has(srcAt) ? 1 / ties.size : 0, fifo: fifo === src, nearest: nearest === src } })
    })
    // Bayes update: every held input survives the round with probability 1 - k/n. The adversary
    // does not know which left, so weights decay rather than vanish.
    const stay = Math.max(0, 1 - k / n)
    for (const c of cands) {
      const v = weight.get(c)! * stay
      if (v < 1e-9) weight.delete(c); else weight.set(c, v)
    }
  }
  const mean = (f: (s: OutputScore) => number): number => scores.length === 0 ? NaN : scores.reduce((a, s) => a + f(s), 0) / scores.length
  const sortedH = scores.map(s => s.entropyBits).sort((a, b) => a - b)
  const chance = mean(s => s.chance)
  const success = { ml: mean(s => s.hit.ml), fifo: mean(s => s.hit.fifo ? 1 : 0), nearest: mean(s => s.hit.nearest ? 1 : 0) }
  return {
    outputs: scores.length,
    meanEntropyBits: mean(s => s.entropyBits),
    p5EntropyBits: sortedH.length === 0 ? NaN : sortedH[Math.floor(0.05 * (sortedH.length - 1))]!,
    idealPoolBits: mean(s => s.idealPoolBits),
    idealBatchBits: mean(s => s.idealBatchBits),
    chance,
    success,
    successOverChance: { ml: success.ml / chance, fifo: success.fifo / chance, nearest: success.nearest / chance }
  }
}

/** Shape checks an observer could exploit: one frame size everywhere; equal per-link counts in every round. */
export function shape (outs: readonly OutEvent[], links: readonly number[], gapMs: number): { readonly frameSizes: number[], readonly rounds: number, readonly unevenRounds: number } {
  const sizes = [...new Set(outs.map(x => x.size))].sort((a, b) => a - b)
  const rounds = roundsOf(outs, gapMs)
  let uneven = 0
  for (const r of rounds) {
    const counts = links.map(l => r.outputs.filter(i => outs[i]!.link === l).length)
    if (new Set(counts).size > 1) uneven++
  }
  return { frameSizes: sizes, rounds: rounds.length, unevenRounds: uneven }
}

/** Two-sample Kolmogorov-Smirnov statistic D and its asymptotic p-value. */
export function ks (a: readonly number[], b: readonly number[]): { readonly d: number, readonly p: number } {
  const x = [...a].sort((p, q) => p - q)
  const y = [...b].sort((p, q) => p - q)
  let i = 0; let j = 0; let d = 0
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!)
    while (i < x.length && x[i]! <= v) i++
    while (j < y.length && y[j]! <= v) j++
    d = Math.max(d, Math.abs(i / x.length - j / y.length))
  }
  const ne = (x.length * y.length) / (x.length + y.length)
  const lambda = (Math.sqrt(ne) + 0.12 + 0.11 / Math.sqrt(ne)) * d
  let p = 0
  for (let k = 1; k <= 100; k++) p += 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda)
  return { d, p: Math.min(1, Math.max(0, p)) }
}

export function gaps (times: readonly number[]): number[] {
  const s = [...times].sort((a, b) => a - b)
  return s.slice(1).map((t, i) => t - s[i]!)
}
