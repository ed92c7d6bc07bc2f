/**
 * The mixing strategies a network document may name (docs/PROTOCOL.md §18): name -> its pool
 * class and the rules its parameters must meet beyond those of every mixing section. The
 * document check (mix/directory/document.ts), the authority's config and the relay's pool
 * (createPool) all read this table, so adding a strategy is its pool class and one line here.
 *
 * The table is closed: fixed when the code is built, frozen, and not open to registration while
 * running. A signed document names its strategy and every node must accept or refuse that name
 * alike; names added at run time would make the answer depend on what a process had loaded, and
 * two nodes running the same build could split over one document.
 */
import type { MixingParams } from '../directory/document.ts'
import { MixError } from '../errors.ts'
import { BatchPool, type MixStrategy, PoissonPool } from './pools.ts'

export interface StrategyEntry {
  /** The pool: it takes packets and releases them in rounds. */
  readonly Pool: new <T>(
    capacity: number,
    p: MixingParams
  ) => MixStrategy<T>
  /**
   * Rules on the parameters that only this strategy has, after those every mixing section meets:
   * the rule broken, as a closed-set word, or null. None: the common rules are all it needs.
   */
  readonly check?: (p: MixingParams) => string | null
  /** Mean per-hop delay a client writes into node_delay when the document sets none, in ms. */
  readonly clientHopDelayMs: number
  /**
   * The anonymity set each real output is promised: how many held packets it could be any of
   * (what the audit judges a relay against).
   */
  readonly promisedSet: (p: MixingParams) => number
}

export const MIXING_STRATEGIES = Object.freeze({
  // A round that releases k packets keeps at least minPool: each output is one of minPool + 1.
  // No per-hop delay: the rounds mix.
  batch: Object.freeze({ Pool: BatchPool, clientHopDelayMs: 0, promisedSet: (p: MixingParams) => p.minPool + 1 }),
  // Packets leave on their own delays from a pool of at least minPool (or at their deadline).
  poisson: Object.freeze({
    Pool: PoissonPool,
    clientHopDelayMs: 50,
    promisedSet: (p: MixingParams) => Math.max(1, p.minPool)
  })
} satisfies Record<string, StrategyEntry>)

export type MixingStrategyName = keyof typeof MIXING_STRATEGIES

/** The names, in the table's order (the authority's config schema lists them). */
export const STRATEGY_NAMES = Object.freeze(Object.keys(MIXING_STRATEGIES)) as readonly string[] as readonly [
  MixingStrategyName,
  ...MixingStrategyName[]
]

export function isStrategyName(x: unknown): x is MixingStrategyName {
  return typeof x === 'string' && Object.hasOwn(MIXING_STRATEGIES, x)
}

function entry(name: MixingStrategyName): StrategyEntry {
  return MIXING_STRATEGIES[name]
}

/** The rule that `p` breaks for its own strategy ('strategy' for a name not in the table), or null. */
export function strategyRuleBroken(p: MixingParams): string | null {
  if (!isStrategyName(p.strategy)) return 'strategy'
  return entry(p.strategy).check?.(p) ?? null
}

/** The pool of `p.strategy`, holding at most `capacity` packets. */
export function createPool<T>(p: MixingParams, capacity: number): MixStrategy<T> {
  if (!isStrategyName(p.strategy))
    throw MixError.BAD_ARGUMENT(`no mixing strategy is named ${JSON.stringify(p.strategy)}`)
  return new (entry(p.strategy).Pool)<T>(capacity, p)
}

/** The anonymity set `p`'s strategy promises each real output (1 for a name not in the table). */
export function promisedAnonymitySet(p: MixingParams): number {
  return isStrategyName(p.strategy) ? entry(p.strategy).promisedSet(p) : 1
}

/** The mean per-hop delay clients use under `p`'s strategy when the document sets none, in ms. */
export function clientHopDelayMs(p: MixingParams): number {
  return isStrategyName(p.strategy) ? entry(p.strategy).clientHopDelayMs : 0
}
