/**
 * The audit's pass criterion, pure. A configuration passes when no adversary does better than the
 * strategy promises, never when it merely sits at a chance level that the relay's own behaviour
 * sets (a relay that forwards at once has a pool of one, and every adversary would sit "at
 * chance"):
 * - every adversary's success is at most 1/k, k the promised anonymity set, plus four standard
 *   errors of a success rate measured over this many outputs;
 * - and at most 1.5 times a uniform guess over the packets the pool really held (from the
 *   truth), plus four standard errors: under load the pool holds far more than the promise,
 *   and a leak that doubles the odds there would still sit under 1/k. This rule only adds to
 *   the promise, so a relay that does not mix cannot pass by making its pool small;
 * - the strong adversary's posterior keeps at least log2 k - 0.5 bits;
 * - the cover adversary picks real outputs, and padding, no more often than a uniform pick,
 *   plus four standard errors;
 * - every scored output's true input is among the candidates (else the adversary model does not
 *   fit what the relay did, and its figures mean nothing), and at most 1% of inputs (beyond the
 *   pool's floor) never come out;
 * - given the shape of the output: one frame size, and per-link counts equal in all but 2% of
 *   rounds (a relay that sends no padding fails here).
 */
import { type MixingParams, promisedAnonymitySet } from '../../mix/index.ts'
import type { Linkability } from './analysis.ts'
import type { CoverScore } from './cover.ts'

/** The anonymity set every real output is promised: the strategy's own rule (mix/mixing/registry.ts). */
export function promisedSet(p: MixingParams): number {
  return promisedAnonymitySet(p)
}

export interface Verdict {
  readonly pass: boolean
  readonly k: number
  readonly successBound: number
  readonly entropyBound: number
  /** Best success over 1/k: how many times the promise the best adversary achieved. */
  readonly overPromise: number
  /** Best success over a uniform guess among the packets really held. */
  readonly overPool: number
  /** Each violated rule, in words. */
  readonly failures: string[]
}

const se = (p: number, n: number): number => (n > 0 ? Math.sqrt(Math.max(p * (1 - p), 1e-6) / n) : Infinity)

export interface Shape {
  readonly frameSizes: readonly number[]
  readonly rounds: number
  readonly unevenRounds: number
}

export function judge(l: Linkability, cover: CoverScore | null, k: number, shape?: Shape): Verdict {
  const p = 1 / k
  const successBound = p + 4 * se(p, l.outputs)
  const entropyBound = Math.log2(k) - 0.5
  const failures: string[] = []
  if (!(l.outputs > 0)) failures.push('no output was scored')
  if (l.missed > 0)
    failures.push(
      `${l.missed} outputs came from an input the adversaries did not consider (it arrived after the output)`
    )
  if (l.lost > 0.01 * l.inputs + k)
    failures.push(
      `${l.lost} of ${l.inputs} inputs never came out (at most 1% and the pool's floor): dropped packets hide what the relay does`
    )
  if (shape !== undefined) {
    if (shape.frameSizes.length !== 1)
      failures.push(`frames of ${shape.frameSizes.length} sizes (${shape.frameSizes.join(', ')} bytes)`)
    if (shape.unevenRounds > 0.02 * shape.rounds + 1)
      failures.push(`${shape.unevenRounds} of ${shape.rounds} rounds carried different counts on its links`)
  }
  for (const [name, s] of Object.entries(l.adversaries)) {
    if (s.success > successBound)
      failures.push(
        `${name} adversary links ${(s.success * 100).toFixed(1)}% (promise: at most ${(successBound * 100).toFixed(1)}%)`
      )
    const poolBound = 1.5 * l.chance + 4 * se(l.chance, l.outputs)
    if (s.success > poolBound)
      failures.push(
        `${name} adversary links ${(s.success * 100).toFixed(1)}%, ${(s.success / l.chance).toFixed(1)}x a uniform guess over the ${l.poolPackets.toFixed(1)} packets held (at most 1.5x)`
      )
  }
  if (!(l.entropyBits >= entropyBound))
    failures.push(
      `strong adversary's posterior keeps ${l.entropyBits.toFixed(2)} bits (promise: at least ${entropyBound.toFixed(2)})`
    )
  if (cover !== null && cover.bursts > 0) {
    for (const [what, x] of [
      ['real output', cover.real],
      ['padding frame', cover.cover]
    ] as const) {
      if (x.success > x.chance + 4 * se(x.chance, cover.bursts))
        failures.push(
          `cover adversary picks a ${what} ${(x.success * 100).toFixed(1)}% of the time (a uniform pick: ${(x.chance * 100).toFixed(1)}%)`
        )
    }
  }
  return {
    pass: failures.length === 0,
    k,
    successBound,
    entropyBound,
    overPromise: l.best.success * k,
    overPool: l.best.success / l.chance,
    failures
  }
}

/** A positive control must fail by a wide margin: its best adversary at twice the promise or more. */
export function failsWidely(v: Verdict): boolean {
  return !v.pass && v.overPromise >= 2
}
