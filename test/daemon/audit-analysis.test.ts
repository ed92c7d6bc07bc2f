/**
 * The audit's adversaries on simulated traffic with known answers: the real batch strategy
 * (mix/mixing.ts) leaves every adversary near chance with entropy near the ideal; no mixing and
 * an order-leaking mix are linked; the KS test and the shape checks tell alike from different.
 */
import assert from 'node:assert/strict'
import { BatchPool, deterministicRng, exponential, loadCrypto, type CryptoSuite, type MixingParams, type Rng } from '../../mix/index.ts'
import { gaps, ks, linkability, shape, type InEvent, type OutEvent } from '../../daemon/audit/analysis.ts'

const PARAMS: MixingParams = { strategy: 'batch', intervalMs: 100, minPool: 8, flushFraction: 0.7, minBatch: 0, maxDelayMs: 5000, loopRatePerSec: 0 }

/** Poisson arrivals at `rate` per second for `seconds`, mixed by a BatchPool every intervalMs. */
function simulate (rng: Rng, p: MixingParams, rate: number, seconds: number, leakOrder = false): { ins: InEvent[], outs: OutEvent[] } {
  const ins: InEvent[] = []
  for (let t = exponential(rng, 1000 / rate); t < seconds * 1000; t += exponential(rng, 1000 / rate)) ins.push({ t, link: 0 })
  const pool = new BatchPool<number>(100_000, p)
  const outs: OutEvent[] = []
  let next = 0
  for (let t = p.intervalMs; t <= seconds * 1000; t += p.intervalMs) {
    while (next < ins.length && ins[next]!.t < t) pool.add(next++, t, 0, rng)
    const { release } = pool.round(t, rng)
    const order = leakOrder ? [...release].sort((a, b) => a - b) : release
    order.forEach((src, j) => outs.push({ t: t + 1 + j * 0.01, link: j % 2, size: 2557, source: src }))
  }
  return { ins, outs }
}

describe('audit analysis', function () {
  let c: CryptoSuite
  before(async function () { c = await loadCrypto() })

  it('the real batch strategy: entropy at or above the ideal, every adversary within 1.25x chance', function () {
    const rng = deterministicRng(c, 'audit-batch')
    const { ins, outs } = simulate(rng, PARAMS, 100, 60)
    const r = linkability(ins, outs, { gapMs: 50, marginMs: 0.5, warmupMs: 5000 })
    assert.ok(r.outputs > 4000)
    assert.ok(r.idealBatchBits - r.meanEntropyBits <= 0.5, `gap ${r.idealBatchBits - r.meanEntropyBits}`)
    for (const [name, v] of Object.entries(r.successOverChance)) assert.ok(v <= 1.25, `${name}: ${v.toFixed(2)}x chance`)
  })

  it('no mixing is linked by FIFO; a mix that keeps arrival order within a round is caught', function () {
    const rng = deterministicRng(c, 'audit-none')
    const ins: InEvent[] = []
    for (let t = 0; t < 20_000; t += exponential(rng, 20)) ins.push({ t, link: 0 })
    const outs: OutEvent[] = ins.map((x, i) => ({ t: x.t + 1, link: 0, size: 2557, source: i }))
    const none = linkability(ins, outs, { gapMs: 0.5, marginMs: 0.5 })
    assert.ok(none.success.fifo >= 0.9, `FIFO links ${none.success.fifo}`)
    const leak = simulate(rng, { ...PARAMS, minPool: 0, flushFraction: 1 }, 200, 30, true)
    const l = linkability(leak.ins, leak.outs, { gapMs: 50, marginMs: 0.5 })
    assert.ok(l.successOverChance.fifo > 3, `an order-keeping batch is linked by FIFO (${l.successOverChance.fifo.toFixed(2)}x chance)`)
  })

  it('KS tells one distribution from another; shape counts uneven rounds and frame sizes', function () {
    const rng = deterministicRng(c, 'audit-ks')
    const a = Array.from({ length: 2000 }, () => exponential(rng, 100))
    const b = Array.from({ length: 2000 }, () => exponential(rng, 100))
    const d = Array.from({ length: 2000 }, () => exponential(rng, 130))
    assert.ok(ks(a, b).p > 0.01)
    assert.ok(ks(a, d).p < 0.001)
    assert.deepEqual(gaps([3, 1, 6]), [2, 3])
    const outs: OutEvent[] = [{ t: 0, link: 0, size: 2557, source: null }, { t: 0.1, link: 1, size: 2557, source: null }, { t: 100, link: 0, size: 2557, source: null }, { t: 100.2, link: 0, size: 1200, source: null }]
    assert.deepEqual(shape(outs, [0, 1], 10), { frameSizes: [1200, 2557], rounds: 2, unevenRounds: 1 })
  })
})
