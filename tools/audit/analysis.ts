/**
 * What a global passive adversary learns from one relay's traffic, pure: no I/O, clock or ambient
 * randomness. Input: every packet in (time, link) and every packet out (time, link, size), plus
 * the ground truth of which input became which output.
 *
 * Every figure is scored against that truth. Each adversary names, for every real output, a
 * posterior over the inputs it could have come from; its success is the probability that its
 * best guess is the true input, and its entropy is the Shannon entropy of that posterior. None of
 * them is compared with a chance level the relay's own behaviour sets: the verdict (verdict.ts)
 * compares them with the anonymity set the configured strategy promises.
 *
 * The adversaries are told which outputs are real (cover is scored separately, cover.ts) and are
 * made stronger than a real one:
 * - fifo: the m-th real output came from the m-th input;
 * - nearest: the latest input before the round that it has not used yet;
 * - counts: the exact posterior of an ideal batch mix from the pool counts alone (every held
 *   packet leaves a round with probability k/n, whatever its age). This is the formula of the
 *   relay's pool-entropy gauge, so it cannot see a relay that leaks order;
 * - strong: the counts posterior reweighted by likelihood ratios learned from ground truth on the
 *   other half of the run (a profiling adversary): arrival order against the number of outputs so
 *   far, age rank against burst position, input link against output link, and time since arrival.
 *   It is trained on one half and scored on the other, so a mix that leaks none of these leaves
 *   it at the counts adversary, and one that leaks any of them is linked.
 */

export interface InEvent {
  readonly t: number
  readonly link: number
}
export interface OutEvent {
  readonly t: number
  readonly link: number
  readonly size: number /** index of the input it came from; null for cover */
  readonly source: number | null
}

export interface Round {
  readonly t: number
  readonly outputs: number[]
}

/** Group output indices (sorted by time) into rounds: a gap over `gapMs` starts a new round. */
export function roundsOf(outs: readonly OutEvent[], gapMs: number): Round[] {
  const idx = outs.map((_, i) => i).sort((a, b) => outs[a]!.t - outs[b]!.t)
  const rounds: Round[] = []
  let cur: number[] = []
  let start = -Infinity
  let last = -Infinity
  for (const i of idx) {
    const t = outs[i]!.t
    if (t - last > gapMs && cur.length > 0) {
      rounds.push({ t: start, outputs: cur })
      cur = []
    }
    if (cur.length === 0) start = t
    cur.push(i)
    last = t
  }
  if (cur.length > 0) rounds.push({ t: start, outputs: cur })
  return rounds
}

export const ADVERSARIES = ['fifo', 'nearest', 'counts', 'strong'] as const
export type AdversaryName = (typeof ADVERSARIES)[number]

export interface AdversaryScore {
  /** Probability that the adversary's best guess is the true input (ties: a uniform choice among them). */
  readonly success: number
  /** Mean Shannon entropy of its posterior, bits (0 for the point guesses fifo and nearest). */
  readonly entropyBits: number
  /** Mean of -log2 P(true input) under its posterior, capped at 20 bits: above entropyBits when it is overconfident. */
  readonly logLossBits: number
}

export interface Linkability {
  readonly outputs: number
  readonly adversaries: Record<AdversaryName, AdversaryScore>
  /** The adversary with the highest success, and that success. */
  readonly best: { readonly name: AdversaryName; readonly success: number }
  /** The strong adversary's posterior entropy: mean and 5th percentile over outputs. */
  readonly entropyBits: number
  readonly p5EntropyBits: number
  /** From the truth: mean packets held when a round released, and 1 / that (a guess uniform over the pool). */
  readonly poolPackets: number
  readonly chance: number
  /** Mean real outputs per round. */
  readonly batchPackets: number
  /** Outputs whose true input was not among the adversary's candidates (should be 0). */
  readonly missed: number
  /**
   * Inputs that never came out although they arrived more than `lostAfterMs` before the last
   * output: a relay that drops packets makes its pool look larger than it is, and breaks the
   * position-counting adversaries.
   */
  readonly lost: number
  readonly inputs: number
}

const LOG_LOSS_CAP = 20

interface Case {
  readonly truth: number
  readonly cands: number[]
  readonly prior: Float64Array
  /** One bucket per candidate and feature: FEATURES[f] values. */
  readonly feats: Uint8Array[]
  readonly fifo: boolean
  readonly nearest: boolean
  readonly fold: 0 | 1
}

/**
 * Feature sizes: order offset (arrival index against outputs so far), age rank against burst
 * position (how far, in packets, a candidate's age rank is from where the j-th of k outputs
 * would sit if a batch kept arrival order; a round of one output is its own value), link pair,
 * and age at 8 steps per doubling (a relay that holds every packet for one fixed time, 1 s say,
 * puts every true input in a bucket about 90 ms wide).
 */
const AGE_STEPS = 8
const FEATURES = [13, 14, 16, 16 * AGE_STEPS] as const

function orderBucket(d: number): number {
  const a = Math.abs(d)
  const lvl = a === 0 ? 0 : a === 1 ? 1 : a < 4 ? 2 : a < 8 ? 3 : a < 16 ? 4 : a < 64 ? 5 : 6
  return 6 + Math.sign(d) * lvl
}

function entropyOf(p: ArrayLike<number>): number {
  let h = 0
  for (let i = 0; i < p.length; i++) {
    const x = p[i]!
    if (x > 0) h -= x * Math.log2(x)
  }
  return h
}

/** Success of a uniform choice among the largest weights. */
function mlHit(p: ArrayLike<number>, truth: number): number {
  let best = 0
  for (let i = 0; i < p.length; i++) best = Math.max(best, p[i]!)
  let ties = 0
  for (let i = 0; i < p.length; i++) if (p[i]! >= best * (1 - 1e-9)) ties++
  return truth >= 0 && p[truth]! >= best * (1 - 1e-9) ? 1 / ties : 0
}

function logLoss(p: ArrayLike<number>, truth: number): number {
  const x = truth >= 0 ? p[truth]! : 0
  return x > 0 ? Math.min(LOG_LOSS_CAP, -Math.log2(x)) : LOG_LOSS_CAP
}

/** Likelihood ratios P(value | true input) / P(value | counts posterior), learned on one fold. */
function learn(cases: readonly Case[], fold: 0 | 1): Float64Array[] {
  const a = 0.5
  return FEATURES.map((size, f) => {
    const hit = new Float64Array(size)
    const all = new Float64Array(size)
    let nHit = 0
    let nAll = 0
    for (const k of cases) {
      if (k.fold !== fold) continue
      const v = k.feats[f]!
      for (let i = 0; i < k.cands.length; i++) {
        all[v[i]!]! += k.prior[i]!
        nAll += k.prior[i]!
      }
      if (k.truth >= 0) {
        hit[v[k.truth]!]! += 1
        nHit++
      }
    }
    const lr = new Float64Array(size)
    for (let v = 0; v < size; v++) lr[v] = (hit[v]! + a) / (nHit + a * size) / ((all[v]! + a) / (nAll + a * size))
    return lr
  })
}

/**
 * Score every real output. Its candidates are every input that arrived before it (causality is
 * all the adversary assumes: an input that came too late to be in the round is left for the
 * profiling adversary to rule out by its age). Outputs in the first `warmupMs` after the first
 * input are tracked but not scored.
 */
export function linkability(
  ins: readonly InEvent[],
  outs: readonly OutEvent[],
  o: { gapMs: number; warmupMs?: number; lostAfterMs?: number }
): Linkability {
  const order = ins.map((_, i) => i).sort((a, b) => ins[a]!.t - ins[b]!.t)
  const arrivalRank = new Int32Array(ins.length)
  order.forEach((i, r) => {
    arrivalRank[i] = r
  })
  const realOuts = outs.filter(x => x.source !== null)
  const rounds = roundsOf(realOuts, o.gapMs)
  // Truth: when each input left (Infinity if it never did), to count what the pool really held.
  const leftAt = new Float64Array(ins.length).fill(Infinity)
  for (const x of realOuts) if (x.source! < ins.length) leftAt[x.source!] = Math.min(leftAt[x.source!]!, x.t)
  const departures = [...leftAt].filter(Number.isFinite).sort((a, b) => a - b)

  const weight = new Map<number, number>()
  let fifoNext = 0
  const usedNearest = new Set<number>()
  let next = 0
  let released = 0
  let departed = 0
  const cases: Case[] = []
  const pools: number[] = []
  const batches: number[] = []
  const t0 = (ins.length > 0 ? ins[order[0]!]!.t : 0) + (o.warmupMs ?? 0)
  const scoredRounds = rounds.filter(r => r.t >= t0)
  const foldSplit = scoredRounds.length > 0 ? scoredRounds[Math.floor(scoredRounds.length / 2)]!.t : Infinity
  for (const r of rounds) {
    while (next < order.length && ins[order[next]!]!.t < r.t) {
      weight.set(order[next]!, 1)
      next++
    }
    while (departed < departures.length && departures[departed]! < r.t) departed++
    const k = r.outputs.length
    // The adversary's own count of what is held: arrived minus released.
    const n = Math.max(k, next - released)
    released += k
    // The candidates as the output at hand sees them; rebuilt when an input arrived within the round.
    let cands: number[] = []
    let prior = new Float64Array(0)
    let rankQ = new Float64Array(0)
    let at = new Map<number, number>()
    const snapshot = (): void => {
      cands = [...weight.keys()].sort((a, b) => arrivalRank[a]! - arrivalRank[b]!)
      const mass = cands.reduce((s, c) => s + weight.get(c)!, 0)
      prior = Float64Array.from(cands, c => weight.get(c)! / mass)
      rankQ = new Float64Array(cands.length)
      let acc = 0
      cands.forEach((_, i) => {
        rankQ[i] = acc
        acc += prior[i]!
      })
      at = new Map(cands.map((c, i) => [c, i] as const))
    }
    snapshot()
    const nearQueue = order
      .slice(0, next)
      .filter(c => !usedNearest.has(c))
      .reverse()
    const scoredRound = r.t >= t0
    if (scoredRound && cands.length > 0) {
      pools.push(Math.max(1, next - departed))
      batches.push(k)
    }
    const byTime = [...r.outputs].sort((a, b) => realOuts[a]!.t - realOuts[b]!.t)
    byTime.forEach((oi, j) => {
      const out = realOuts[oi]!
      let late = false
      while (next < order.length && ins[order[next]!]!.t < out.t) {
        weight.set(order[next]!, 1)
        next++
        late = true
      }
      if (late) snapshot()
      const fifo = order[fifoNext++] ?? -1
      const nearest = nearQueue[j] ?? -1
      if (nearest >= 0) usedNearest.add(nearest)
      if (!scoredRound || cands.length === 0) return
      const feats = FEATURES.map(() => new Uint8Array(cands.length))
      cands.forEach((c, i) => {
        feats[0]![i] = orderBucket(arrivalRank[c]! - (released - k + j))
        feats[1]![i] = k === 1 ? 13 : orderBucket(Math.round((rankQ[i]! - (j + 0.5) / k) * n))
        feats[2]![i] = Math.min(3, ins[c]!.link) * 4 + Math.min(3, out.link)
        feats[3]![i] = Math.min(
          16 * AGE_STEPS - 1,
          Math.max(0, Math.floor(AGE_STEPS * Math.log2(1 + Math.max(0, out.t - ins[c]!.t))))
        )
      })
      cases.push({
        truth: at.get(out.source!) ?? -1,
        cands,
        prior,
        feats,
        fifo: fifo === out.source,
        nearest: nearest === out.source,
        fold: r.t < foldSplit ? 0 : 1
      })
    })
    // Bayes update of the counts adversary: every held input survives the round with probability
    // 1 - k/n; it does not know which left, so weights decay rather than vanish.
    const stay = Math.max(0, 1 - k / n)
    for (const c of [...weight.keys()]) {
      const v = weight.get(c)! * stay
      if (v < 1e-9) weight.delete(c)
      else weight.set(c, v)
    }
  }

  const lrs = [learn(cases, 1), learn(cases, 0)] // fold 0 is scored with what fold 1 taught, and back
  const sum = { fifo: 0, nearest: 0, counts: 0, strong: 0, hCounts: 0, hStrong: 0, llCounts: 0, llStrong: 0 }
  const hs: number[] = []
  let missed = 0
  for (const k of cases) {
    if (k.truth < 0) missed++
    sum.fifo += k.fifo ? 1 : 0
    sum.nearest += k.nearest ? 1 : 0
    sum.counts += mlHit(k.prior, k.truth)
    sum.hCounts += entropyOf(k.prior)
    sum.llCounts += logLoss(k.prior, k.truth)
    const lr = lrs[k.fold]!
    const w = Float64Array.from(k.prior, (p, i) => {
      let x = p
      for (let f = 0; f < FEATURES.length; f++) x *= lr[f]![k.feats[f]![i]!]!
      return x
    })
    const s = w.reduce((a, b) => a + b, 0)
    for (let i = 0; i < w.length; i++) w[i] = w[i]! / s
    sum.strong += mlHit(w, k.truth)
    const h = entropyOf(w)
    hs.push(h)
    sum.hStrong += h
    sum.llStrong += logLoss(w, k.truth)
  }
  const N = cases.length
  const mean = (x: number): number => (N === 0 ? NaN : x / N)
  const adversaries: Record<AdversaryName, AdversaryScore> = {
    fifo: { success: mean(sum.fifo), entropyBits: 0, logLossBits: NaN },
    nearest: { success: mean(sum.nearest), entropyBits: 0, logLossBits: NaN },
    counts: { success: mean(sum.counts), entropyBits: mean(sum.hCounts), logLossBits: mean(sum.llCounts) },
    strong: { success: mean(sum.strong), entropyBits: mean(sum.hStrong), logLossBits: mean(sum.llStrong) }
  }
  const best = ADVERSARIES.map(name => ({ name, success: adversaries[name].success })).reduce((a, b) =>
    b.success > a.success ? b : a
  )
  hs.sort((a, b) => a - b)
  const lastOut = realOuts.reduce((m, x) => Math.max(m, x.t), -Infinity)
  const lostBefore = lastOut - (o.lostAfterMs ?? 5000)
  const lost = ins.filter((x, i) => x.t < lostBefore && !Number.isFinite(leftAt[i]!)).length
  const avg = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length)
  return {
    outputs: N,
    adversaries,
    best,
    entropyBits: adversaries.strong.entropyBits,
    p5EntropyBits: hs.length === 0 ? NaN : hs[Math.floor(0.05 * (hs.length - 1))]!,
    poolPackets: avg(pools),
    chance: avg(pools.map(p => 1 / p)),
    batchPackets: avg(batches),
    missed,
    lost,
    inputs: ins.length
  }
}

/**
 * The FIFO queue with the same counts: the same arrivals and the same number of real outputs in
 * every round (so the same pool counts, and the same pool-entropy gauge), but each round releases
 * the oldest packets it holds, in arrival order. A positive control: it must fail the verdict.
 */
export function fifoRelabel(ins: readonly InEvent[], outs: readonly OutEvent[], o: { gapMs: number }): OutEvent[] {
  const order = ins.map((_, i) => i).sort((a, b) => ins[a]!.t - ins[b]!.t)
  const real = outs.map((x, i) => ({ x, i })).filter(e => e.x.source !== null)
  const rounds = roundsOf(
    real.map(e => e.x),
    o.gapMs
  )
  const relabelled = [...outs]
  let next = 0
  let arrived = 0
  for (const r of rounds) {
    for (const j of [...r.outputs].sort((a, b) => real[a]!.x.t - real[b]!.x.t)) {
      const e = real[j]!
      while (arrived < order.length && ins[order[arrived]!]!.t < e.x.t) arrived++
      // Never before arrival: if the queue is empty the output keeps its real source.
      if (next < arrived) relabelled[e.i] = { ...e.x, source: order[next++]! }
    }
  }
  return relabelled
}

/** Shape checks an observer could exploit: one frame size everywhere; equal per-link counts in every round. */
export function shape(
  outs: readonly OutEvent[],
  links: readonly number[],
  gapMs: number
): { readonly frameSizes: number[]; readonly rounds: number; readonly unevenRounds: number } {
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
export function ks(a: readonly number[], b: readonly number[]): { readonly d: number; readonly p: number } {
  const x = [...a].sort((p, q) => p - q)
  const y = [...b].sort((p, q) => p - q)
  let i = 0
  let j = 0
  let d = 0
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

export function gaps(times: readonly number[]): number[] {
  const s = [...times].sort((a, b) => a - b)
  return s.slice(1).map((t, i) => t - s[i]!)
}
