/**
 * Can an observer tell a relay's real output from its link padding? Pure. For every burst that
 * carries both, a profiling adversary picks the output it thinks most likely real, and the one
 * it thinks most likely padding, from the place of each output in its burst (in time order) and
 * on its link, with P(real | place) learned from the truth on the other half of the run. Each
 * pick's success is compared with the share of its class in the burst: a uniform pick. A relay
 * that sends real packets before (or after) its padding is caught; one that shuffles them is
 * not. Both picks are scored because a leak shows most where its class is rare.
 */
import { type OutEvent, roundsOf } from './analysis.ts'

export interface Pick {
  /** Probability that the adversary's pick is of the class it looks for, and that a uniform pick is. */
  readonly success: number
  readonly chance: number
}

export interface CoverScore {
  /** Bursts with at least one real and one cover output. */
  readonly bursts: number
  readonly real: Pick
  readonly cover: Pick
}

const PLACES = 5

function placeOf(j: number, n: number): number {
  return Math.min(PLACES - 1, Math.floor((j * PLACES) / n))
}

export function coverDistinguisher(outs: readonly OutEvent[], o: { gapMs: number; fromMs?: number }): CoverScore {
  const bursts = roundsOf(outs, o.gapMs)
    .filter(r => r.t >= (o.fromMs ?? -Infinity))
    .map(r => {
      // Place in the burst and place among its own link's frames: an observer sees both.
      const byTime = [...r.outputs].sort((a, b) => outs[a]!.t - outs[b]!.t)
      const perLink = new Map<number, number[]>()
      for (const i of byTime) {
        const l = outs[i]!.link
        perLink.set(l, [...(perLink.get(l) ?? []), i])
      }
      const feature = new Map<number, number>()
      byTime.forEach((i, j) => {
        const own = perLink.get(outs[i]!.link)!
        feature.set(i, placeOf(j, byTime.length) * PLACES + placeOf(own.indexOf(i), own.length))
      })
      return { outputs: byTime, feature }
    })
    .filter(b => {
      const real = b.outputs.filter(i => outs[i]!.source !== null).length
      return real > 0 && real < b.outputs.length
    })
  const half = Math.floor(bursts.length / 2)
  const learn = (from: typeof bursts): Float64Array => {
    const real = new Float64Array(PLACES * PLACES)
    const all = new Float64Array(PLACES * PLACES)
    for (const b of from)
      for (const i of b.outputs) {
        const f = b.feature.get(i)!
        all[f]!++
        if (outs[i]!.source !== null) real[f]!++
      }
    return Float64Array.from(all, (n, f) => (real[f]! + 0.5) / (n + 1))
  }
  const models = [learn(bursts.slice(half)), learn(bursts.slice(0, half))]
  const sum = { real: 0, realShare: 0, cover: 0, coverShare: 0 }
  bursts.forEach((b, k) => {
    const p = models[k < half ? 0 : 1]!
    const score = b.outputs.map(i => p[b.feature.get(i)!]!)
    const isReal = (i: number): boolean => outs[i]!.source !== null
    // A uniform choice among the tied best: its expected success is the real share among them.
    const pick = (best: number): number => {
      const tied = b.outputs.filter((_, j) => Math.abs(score[j]! - best) <= 1e-12)
      return tied.filter(isReal).length / tied.length
    }
    const share = b.outputs.filter(isReal).length / b.outputs.length
    sum.real += pick(Math.max(...score))
    sum.realShare += share
    sum.cover += 1 - pick(Math.min(...score))
    sum.coverShare += 1 - share
  })
  const n = bursts.length
  const m = (x: number): number => (n === 0 ? NaN : x / n)
  return {
    bursts: n,
    real: { success: m(sum.real), chance: m(sum.realShare) },
    cover: { success: m(sum.cover), chance: m(sum.coverShare) }
  }
}
