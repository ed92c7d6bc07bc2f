/**
 * Simulated relays with known leaks, pure (randomness injected): Poisson arrivals on two input
 * links, the real batch strategy (mix/mixing/strategies.ts) and link padding, and two output links. The
 * audit runs each leaky variant beside the real relay; each must be caught, or the audit's
 * adversaries are too weak to trust.
 */
import {
  BatchPool,
  exponential,
  linkPadding,
  type MixingParams,
  type Rng,
  randomInt,
  shuffle
} from '../../mix/index.ts'
import type { InEvent, OutEvent } from './analysis.ts'

export const SIM_MIXES = ['batch', 'keep-order', 'real-first', 'same-link'] as const
/**
 * batch: the relay as built. keep-order: a random batch, sent in arrival order. real-first: each
 * link's real packets leave before its padding. same-link: a packet leaves on the link it came in.
 */
export type SimMix = (typeof SIM_MIXES)[number]

export const SIM_FRAME_BYTES = 2557

export function simulate(
  rng: Rng,
  p: MixingParams,
  o: { rate: number; seconds: number; mix: SimMix }
): { ins: InEvent[]; outs: OutEvent[] } {
  const ins: InEvent[] = []
  for (let t = exponential(rng, 1000 / o.rate); t < o.seconds * 1000; t += exponential(rng, 1000 / o.rate))
    ins.push({ t, link: randomInt(rng, 2) })
  const pool = new BatchPool<number>(1_000_000, p)
  const outs: OutEvent[] = []
  let next = 0
  for (let t = p.intervalMs; t <= o.seconds * 1000; t += p.intervalMs) {
    while (next < ins.length && ins[next]!.t < t) pool.add(next++, t, 0, rng)
    const { release } = pool.round(t, rng)
    const queues = new Map<number, Array<number | null>>([
      [0, []],
      [1, []]
    ])
    for (const src of release) queues.get(o.mix === 'same-link' ? ins[src]!.link : randomInt(rng, 2))!.push(src)
    const cover = linkPadding(new Map([...queues].map(([l, q]) => [String(l), q.length])), ['0', '1'], p.minBatch)
    for (const [l, q] of queues) {
      const reals = o.mix === 'keep-order' ? [...q].sort((a, b) => a! - b!) : q
      const padding = Array<null>(cover.get(String(l))!).fill(null)
      if (o.mix === 'real-first') {
        queues.set(l, [...reals, ...padding])
        continue
      }
      const mixed = shuffle([...q, ...padding], rng)
      // keep-order: the same places for real packets, filled in arrival order.
      let r = 0
      queues.set(
        l,
        mixed.map(x => (x === null ? null : reals[r++]!))
      )
    }
    // Links interleaved round robin, 10 µs apart, as the relay's corked writes leave.
    const longest = Math.max(queues.get(0)!.length, queues.get(1)!.length)
    let at = t + 1
    for (let i = 0; i < longest; i++) {
      for (const l of [0, 1]) {
        const x = queues.get(l)![i]
        if (x === undefined) continue
        outs.push({ t: at, link: l, size: SIM_FRAME_BYTES, source: x })
        at += 0.01
      }
    }
  }
  return { ins, outs }
}
