import assert from 'node:assert/strict'
import { deterministicRng, loadCrypto, ReplayFilter, type Rng } from '../../mix/index.ts'

describe('ReplayFilter', function () {
  let rng: Rng
  before(async function () {
    rng = deterministicRng(await loadCrypto('sodium-native'), 'replay')
  })

  it('has no false negatives and a false-positive rate near its target (E3, 10^5 tags)', function () {
    const f = new ReplayFilter(100_000, 1e-3)
    const tags = Array.from({ length: 100_000 }, () => rng.bytes(32))
    for (const t of tags) f.add(t)
    for (const t of tags) assert.ok(f.has(t))
    let fp = 0
    const trials = 200_000
    for (let i = 0; i < trials; i++) if (f.has(rng.bytes(32))) fp++
    const rate = fp / trials
    const sigma = Math.sqrt((1e-3 * (1 - 1e-3)) / trials)
    assert.ok(rate < 1e-3 + 3 * sigma + 2e-4, `false-positive rate ${rate}`)
  })

  it('reports a replayed tag as not fresh and counts fresh tags', function () {
    const f = new ReplayFilter(10, 1e-6)
    const t = rng.bytes(32)
    assert.equal(f.add(t), true)
    assert.equal(f.add(t), false)
    assert.equal(f.count, 1)
  })

  it('is full at capacity (the caller fails closed) and sizes itself from capacity and rate', function () {
    const f = new ReplayFilter(5, 1e-6)
    for (let i = 0; i < 5; i++) f.add(rng.bytes(32))
    assert.equal(f.full, true)
    const big = new ReplayFilter(1_000_000, 1e-6)
    assert.ok(big.byteLength > 3_500_000 && big.byteLength < 3_700_000, `${big.byteLength} bytes for 10^6 tags at 1e-6`)
    big.clear()
    assert.equal(big.count, 0)
  })

  it('refuses bad sizes', function () {
    assert.throws(() => new ReplayFilter(0, 0.01), { code: 'MIX_BAD_ARGUMENT' })
    assert.throws(() => new ReplayFilter(10, 0.7), { code: 'MIX_BAD_ARGUMENT' })
  })
})
