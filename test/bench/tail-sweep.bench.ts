/**
 * How the mixing's own tail depends on the traffic through the pools (docs/BENCHMARKS.md, "Tail
 * latency"): the p99/p50 of the delay that the 10 batch pools of a devnet message and its ack give
 * it, simulated with the pools themselves (tools/devnet/tail.ts, which runs mix/mixing's pool on
 * Poisson arrivals), at the packets per round that bench:devnet measured at each relay
 * (docs/results/2026-12-01/devnet-tail-after.json: gateway-a 3.02, gateway-b 2.22, each mix 4.21)
 * and at multiples of it, as more cover would give. Nothing runs but the simulation; each cell is
 * the median over SEEDS seeded runs, with their range, because a p99 of 20,000 sums moves by a few
 * percent between seeds.
 *
 * `npm run bench:tail-sweep [-- --json FILE]`
 */
import { writeFileSync } from 'node:fs'
import { type CryptoSuite, DEFAULT_MIXING, deterministicRng, loadCrypto, type MixingParams } from '../../mix/index.ts'
import { inherentMixing, DEVNET_PATHS as PATHS, type RelayRounds } from '../../tools/devnet/tail.ts'
import { DEVNET_MIXING } from '../../tools/network/layout.ts'

/** Packets released per round at each devnet relay, as measured (the devnet's own traffic). */
const MEASURED: Readonly<Record<string, number>> = {
  'gateway-a': 3.02,
  'gateway-b': 2.22,
  'mix-1': 4.21,
  'mix-2': 4.21,
  'mix-3': 4.21
}
const SCALES = [1, 1.25, 1.5, 2, 3, 4]
const SEEDS = 7
const SAMPLES = 20_000

interface Cell {
  readonly mixing: string
  readonly scale: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number; readonly runs: number[] }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const r2 = (x: number): number => Math.round(x * 100) / 100

/** Uniforms in [0, 1) from the project's reproducible stream (ChaCha20 from a seed). */
function seeded(c: CryptoSuite, seed: string): () => number {
  const rng = deterministicRng(c, seed)
  let block: Buffer = Buffer.alloc(0)
  let at = 0
  return () => {
    // Drawn from the stream 4 KiB at a time and read 4 bytes a uniform, not a draw (and a copy) each.
    if (at === block.length) {
      block = rng.bytes(4096)
      at = 0
    }
    const u = block.readUInt32BE(at) / 2 ** 32
    at += 4
    return u
  }
}

function cell(c: CryptoSuite, name: string, p: MixingParams, scale: number): Cell {
  const relays: RelayRounds[] = Object.entries(MEASURED).map(([n, perRound]) => ({
    name: n,
    rounds: 10_000,
    released: perRound * scale * 10_000,
    seconds: (10_000 * p.intervalMs) / 1000,
    poolMean: 0
  }))
  const runs = Array.from(
    { length: SEEDS },
    (_, i) => inherentMixing(p, 0, relays, PATHS, seeded(c, `tail-sweep/${i}`), SAMPLES).simulated
  )
  const ratios = runs.map(d => r2(d.p99 / d.p50))
  return {
    mixing: name,
    scale,
    p50Ms: Math.round(median(runs.map(d => d.p50))),
    p99Ms: Math.round(median(runs.map(d => d.p99))),
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), runs: ratios }
  }
}

/**
 * The p-quantile of the sum of k exponential delays of mean 1 (Erlang), by bisection on its CDF
 * 1 - e^-x * sum_{i<k} x^i / i!. The reference: a continuous-time (Poisson) mix delays each hop
 * by an exponential, so over the 10 hops of a message and its ack its p99/p50 is this, whatever
 * the mean delay.
 */
export function erlangQuantile(k: number, p: number): number {
  const cdf = (x: number): number => {
    let term = 1
    let sum = 1
    for (let i = 1; i < k; i++) {
      term *= x / i
      sum += term
    }
    return 1 - Math.exp(-x) * sum
  }
  let lo = 0
  let hi = 10 * k + 100
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2
    if (cdf(mid) < p) lo = mid
    else hi = mid
  }
  return lo
}

export function tailSweep(c: CryptoSuite): Cell[] {
  const cells: Cell[] = []
  for (const [name, p] of [
    ['devnet (minPool 4)', DEVNET_MIXING],
    ['default (minPool 8)', DEFAULT_MIXING]
  ] as const)
    for (const k of SCALES) cells.push(cell(c, name, p, k))
  return cells
}

if (process.argv[1]?.endsWith('tail-sweep.bench.ts') === true) {
  const cells = tailSweep(await loadCrypto('sodium-native'))
  console.log('| mixing | traffic through the pools | p50 ms | p99 ms | p99/p50 (range over seeds) |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const c of cells)
    console.log(
      `| ${c.mixing} | ${c.scale}x | ${c.p50Ms} | ${c.p99Ms} | ${c.ratio.median.toFixed(2)} (${c.ratio.min.toFixed(2)}-${c.ratio.max.toFixed(2)}) |`
    )
  const poisson = r2(erlangQuantile(10, 0.99) / erlangQuantile(10, 0.5))
  console.log(
    `reference: a Poisson mix (exponential delay per hop), 10 hops: p99/p50 ${poisson.toFixed(2)} at any mean`
  )
  const at = process.argv.indexOf('--json')
  if (at > 0) {
    const file = process.argv[at + 1]
    if (file === undefined) throw new Error('--json needs a file name')
    writeFileSync(
      file,
      `${JSON.stringify({ command: 'npm run bench:tail-sweep -- --json FILE', measured: MEASURED, seeds: SEEDS, samples: SAMPLES, cells, poissonMixTenHopsP99OverP50: poisson }, null, 1)}\n`
    )
  }
}
