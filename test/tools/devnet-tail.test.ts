/** The devnet's inherent mixing delay (tools/devnet/tail.ts): Little's law per relay against the pool simulated with the strategy itself. */
import assert from 'node:assert/strict'
import type { MixingParams } from '../../mix/index.ts'
import { inherentMixing } from '../../tools/devnet/tail.ts'

/** A small LCG: reproducible draws in [0, 1). */
function lcg(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 0x100000000
  }
}

const BATCH: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 4,
  flushFraction: 0.7,
  minBatch: 2,
  maxDelayMs: 5000,
  loopRatePerSec: 0
}

describe('inherent mixing delay (tools/devnet/tail.ts)', function () {
  const relay = (name: string, perRound: number, poolMean: number) => ({
    name,
    rounds: 1000,
    released: 1000 * perRound,
    seconds: 100,
    poolMean
  })

  it("a batch pool that keeps 4 of about 8: Little's law and the simulation agree on 150 ms a hop", function () {
    const r = inherentMixing(BATCH, 0, [relay('a', 4, 4)], [Array(10).fill('a')], lcg(1), 20_000)
    assert.equal(r.perRelayMs.a, 150)
    assert.equal(r.meanMs, 1500)
    assert.equal(r.configuredMs, 500)
    // The simulated pool holds a little more than minPool when a round's arrivals exceed what 0.7 releases.
    assert.ok(Math.abs(r.simulated.mean - 1500) < 150, `simulated mean ${r.simulated.mean}`)
    assert.ok(r.simulated.p99 > r.simulated.p50, 'a tail')
  })

  it('positive control: a pool that keeps nothing gives half a round a hop, and less traffic a longer hold', function () {
    const none = inherentMixing({ ...BATCH, minPool: 0, flushFraction: 1 }, 0, [relay('a', 4, 0)], [['a']], lcg(2))
    assert.equal(none.perRelayMs.a, 50)
    assert.ok(Math.abs(none.simulated.mean - 50) < 5, `simulated ${none.simulated.mean}`)
    const light = inherentMixing(BATCH, 0, [relay('a', 1, 4)], [['a']], lcg(3))
    assert.equal(light.perRelayMs.a, 450)
    assert.ok(Math.abs(light.simulated.mean - 450) < 45, `simulated ${light.simulated.mean}`)
  })
})
