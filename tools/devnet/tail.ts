/**
 * The devnet's tail latency, taken apart (`npm run bench:devnet`, docs/BENCHMARKS.md "Tail
 * latency"): the demo clients' acks split into the stages the SDK measures (client/latency.ts),
 * and the delay that the mixing itself gives, from the relays' own counts. What is inherent is
 * what the mixing parameters make at the traffic the relays saw: each of the 10 pools a message
 * and its ack cross holds a packet for the wait to the next round and then until a round picks
 * it; everything else (send slots, re-sends, the mailbox, the ingress) is not mixing.
 */
import { type LatencyStages, STAGES } from '../../client/index.ts'
import { createPool, type MixingParams, type Rng } from '../../mix/index.ts'
import { type AckRecord, percentile } from './status.ts'

export type Stage = (typeof STAGES)[number]

/** Each stage with its short name (bench result names, tables). */
export const STAGE_NAMES: ReadonlyArray<readonly [Stage, string]> = STAGES.map(k => [k, k.replace(/Ms$/, '')] as const)

export interface Dist {
  readonly n: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

export function dist(xs: readonly number[]): Dist {
  const s = [...xs].sort((a, b) => a - b)
  const mean = s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length
  return {
    n: s.length,
    mean,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s.length === 0 ? NaN : s[s.length - 1]!
  }
}

export interface TailBreakdown {
  /** Every ack's latency. */
  readonly latency: Dist
  /** Acks with stages (a message taken back from a client's store has none). */
  readonly staged: number
  readonly stages: Record<Stage, Dist>
  /** Mean of each stage over the acks whose latency is at or above the p90 (the p99) latency: what the tail is made of. */
  readonly tail90: { readonly n: number; readonly mean: Record<Stage, number> }
  readonly tail99: { readonly n: number; readonly mean: Record<Stage, number> }
  /** Acks of a re-sent attempt, and their latency. */
  readonly resent: Dist
  /** Acks of messages during which an epoch began, and their latency. */
  readonly epochCrossed: Dist
}

export function tailBreakdown(acks: readonly AckRecord[]): TailBreakdown {
  const latency = dist(acks.map(a => a.latencyMs))
  const staged = acks.filter((a): a is AckRecord & { stages: LatencyStages } => a.stages !== undefined)
  const stages = Object.fromEntries(STAGES.map(k => [k, dist(staged.map(a => a.stages[k]))])) as Record<Stage, Dist>
  const tail = (p: number): { n: number; mean: Record<Stage, number> } => {
    const s = staged.filter(a => a.latencyMs >= p)
    const mean = (k: Stage): number => (s.length === 0 ? NaN : s.reduce((x, a) => x + a.stages[k], 0) / s.length)
    return { n: s.length, mean: Object.fromEntries(STAGES.map(k => [k, mean(k)])) as Record<Stage, number> }
  }
  return {
    latency,
    staged: staged.length,
    stages,
    tail90: tail(latency.p90),
    tail99: tail(latency.p99),
    resent: dist(staged.filter(a => a.stages.resendMs > 0).map(a => a.latencyMs)),
    epochCrossed: dist(acks.filter(a => (a.epochs ?? 0) > 0).map(a => a.latencyMs))
  }
}

/**
 * The 10 pools of a demo message and its ack: alice's entry is gateway-a, bob's gateway-b; the
 * exit is either gateway (drawn per packet); the ack comes back from the exit to the entry's mailbox.
 */
export const DEVNET_PATHS: ReadonlyArray<readonly string[]> = ['gateway-a', 'gateway-b'].flatMap(entry =>
  ['gateway-a', 'gateway-b'].map(exit => [
    entry,
    'mix-1',
    'mix-2',
    'mix-3',
    exit,
    exit,
    'mix-1',
    'mix-2',
    'mix-3',
    entry
  ])
)

/** One relay's mixing over the measured window, from its metrics. */
export interface RelayRounds {
  readonly name: string
  /** Rounds run (the count of `sealmix_mix_batch_packets`). */
  readonly rounds: number
  /** Packets released by those rounds (its sum): in a steady state, the packets that arrived. */
  readonly released: number
  /** Length of the window. */
  readonly seconds: number
  /** Mean of `sealmix_mix_pool_packets` (held after a round) over samples in the window. */
  readonly poolMean: number
}

export interface InherentMixing {
  /** Per relay: mean time a packet spends there (Little's law on its counts), ms. */
  readonly perRelayMs: Record<string, number>
  /** Sum over a message's and its ack's 10 pools, averaged over the paths: the inherent delay sum. */
  readonly meanMs: number
  /** The same from the configuration alone, as if traffic were endless: 10 × (hopDelayMs + round / 2). */
  readonly configuredMs: number
  /** The distribution of that sum, simulated with each relay's pool at its measured arrival rate. */
  readonly simulated: Dist
}

/**
 * The delay the mixing gives a message and its ack. `paths`: relay names of the 10 pools, each
 * path equally likely (entry gateway, three mixes, exit gateway; then the exit gateway again,
 * three mixes and the entry gateway's mailbox). Per relay, a packet waits for the next round
 * (half a round on average) and then L/λ rounds (Little's law: L packets held after a round, λ
 * released per round; a poisson pool's node_delay is in L). The distribution comes from the strategy itself (mix/mixing) fed with
 * Poisson arrivals at each relay's measured rate, so its tail is the pool's, not a guess.
 */
export function inherentMixing(
  p: MixingParams,
  hopDelayMs: number,
  relays: readonly RelayRounds[],
  paths: ReadonlyArray<readonly string[]>,
  uniform: () => number,
  samples = 20_000
): InherentMixing {
  const perRelayMs: Record<string, number> = {}
  const residence = new Map<string, number[]>()
  for (const r of relays) {
    const period = r.rounds > 0 ? (r.seconds * 1000) / r.rounds : p.intervalMs
    const perRound = r.rounds > 0 ? r.released / r.rounds : 0
    perRelayMs[r.name] = period * (0.5 + (perRound > 0 ? r.poolMean / perRound : 0))
    residence.set(r.name, simulatePool(p, hopDelayMs, period, perRound, uniform, samples))
  }
  const pathMean = (path: readonly string[]): number => path.reduce((s, n) => s + (perRelayMs[n] ?? NaN), 0)
  const meanMs = paths.reduce((s, path) => s + pathMean(path), 0) / paths.length
  const sums: number[] = []
  for (let i = 0; i < samples; i++) {
    const path = paths[Math.floor(uniform() * paths.length)]!
    let t = 0
    for (const n of path) {
      const xs = residence.get(n)
      t += xs === undefined || xs.length === 0 ? NaN : xs[Math.floor(uniform() * xs.length)]!
    }
    sums.push(t)
  }
  const hops = paths[0]?.length ?? 0
  return { perRelayMs, meanMs, configuredMs: hops * (hopDelayMs + p.intervalMs / 2), simulated: dist(sums) }
}

/**
 * Times packets spend at one relay: arrivals Poisson with mean `perRound` per round, each staged
 * until the next round (uniform over the round), then held by the strategy's pool until a round
 * releases it. Runs until `samples` packets have left (or a bound of rounds when few arrive).
 */
function simulatePool(
  p: MixingParams,
  hopDelayMs: number,
  period: number,
  perRound: number,
  uniform: () => number,
  samples: number
): number[] {
  const rng: Rng = {
    bytes: n => {
      const b = Buffer.alloc(n)
      for (let i = 0; i < n; i++) b[i] = Math.floor(uniform() * 256)
      return b
    }
  }
  const pool = createPool<number>(p, 1_000_000)
  const out: number[] = []
  const warmup = 200
  for (let round = 0; out.length < samples && round < warmup + samples * 10; round++) {
    const now = round * period
    for (let k = poisson(perRound, uniform); k > 0; k--) {
      const staged = uniform() * period
      const delay = p.strategy === 'poisson' ? -Math.log(1 - uniform()) * hopDelayMs : 0
      pool.add(now - staged, now, delay, rng)
    }
    for (const arrived of pool.round(now, rng).release) if (round >= warmup) out.push(now - arrived)
  }
  return out
}

function poisson(mean: number, uniform: () => number): number {
  if (!(mean > 0)) return 0
  // Knuth's method: the means here are a few packets per round.
  const l = Math.exp(-mean)
  let k = 0
  let prod = uniform()
  while (prod > l) {
    k++
    prod *= uniform()
  }
  return k
}
