import assert from 'node:assert/strict'
import { BatchPool, deterministicRng, linkPadding, loadCrypto, PoissonPool, PoolEntropy, randomInt, shuffle, type MixingParams, type Rng } from '../../mix/index.ts'

const params = (over: Partial<MixingParams> = {}): MixingParams => ({ strategy: 'batch', intervalMs: 100, minPool: 4, flushFraction: 0.7, minBatch: 0, maxDelayMs: 5000, loopRatePerSec: 0, ...over })

describe('mixing', function () {
  let rng: Rng
  before(async function () { rng = deterministicRng(await loadCrypto('sodium-native'), 'mixing') })

  describe('randomInt and shuffle', function () {
    it('draws uniformly (chi-square over 10 buckets, 100k draws)', function () {
      const counts = new Array(10).fill(0)
      for (let i = 0; i < 100_000; i++) counts[randomInt(rng, 10)]++
      const chi = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0)
      assert.ok(chi < 27.88, `chi-square ${chi} (p < 0.001 at 9 dof is 27.88)`)
    })
    it('returns a permutation whose positions are uniform (chi-square, 20k shuffles of 8)', function () {
      const pos = Array.from({ length: 8 }, () => new Array(8).fill(0))
      for (let t = 0; t < 20_000; t++) {
        const a = shuffle([0, 1, 2, 3, 4, 5, 6, 7], rng)
        assert.deepEqual([...a].sort(), [0, 1, 2, 3, 4, 5, 6, 7])
        a.forEach((v, i) => pos[v]![i]++)
      }
      const e = 20_000 / 8
      const chi = pos.flat().reduce((s, c) => s + (c - e) ** 2 / e, 0)
      assert.ok(chi < 93.2, `chi-square ${chi} (p < 0.001 at 49 dof is about 85.4; bound 93.2)`)
    })
  })

  describe('BatchPool', function () {
    it('releases all but max(minPool, n(1 - f)) and keeps the rest', function () {
      const p = new BatchPool<number>(1000, params())
      for (let i = 0; i < 100; i++) p.add(i, 0, 0, rng)
      const r = p.round(100, rng)
      assert.equal(r.poolBefore, 100)
      assert.equal(r.release.length, 70)
      assert.equal(p.size, 30)
      const small = new BatchPool<number>(1000, params())
      for (let i = 0; i < 5; i++) small.add(i, 0, 0, rng)
      assert.equal(small.round(100, rng).release.length, 1, 'minPool 4 is kept back')
      const seen = new Set([...r.release, ...p.drain()])
      assert.equal(seen.size, 100, 'nothing lost or duplicated')
    })
    it('selects uniformly: every input is equally likely to leave in the first round', function () {
      const left = new Array(20).fill(0)
      for (let t = 0; t < 5000; t++) {
        const p = new BatchPool<number>(100, params({ flushFraction: 0.5, minPool: 0 }))
        for (let i = 0; i < 20; i++) p.add(i, 0, 0, rng)
        for (const x of p.round(1, rng).release) left[x]++
      }
      const chi = left.reduce((s, c) => s + (c - 2500) ** 2 / 2500, 0)
      assert.ok(chi < 43.8, `chi-square ${chi} (p < 0.001 at 19 dof)`)
    })
    it('stays within capacity, dropping a uniformly random packet (possibly the new one)', function () {
      const p = new BatchPool<number>(10, params())
      const dropped: number[] = []
      for (let i = 0; i < 1000; i++) { const d = p.add(i, 0, 0, rng); if (d !== undefined) dropped.push(d) }
      assert.equal(p.size, 10)
      assert.equal(dropped.length, 990)
      assert.ok(dropped.some(d => d < 10), 'early packets can be evicted')
      assert.ok(dropped.some(d => d >= 990), 'late packets can be refused')
    })
  })

  describe('PoissonPool', function () {
    it('releases each packet after its delay, clamped to maxDelayMs', function () {
      const p = new PoissonPool<string>(100, params({ strategy: 'poisson', minPool: 0, maxDelayMs: 1000 }))
      p.add('a', 0, 50, rng); p.add('b', 0, 500, rng); p.add('c', 0, 1e9, rng)
      assert.deepEqual(p.round(49, rng).release, [])
      assert.deepEqual(p.round(50, rng).release, ['a'])
      assert.deepEqual(p.round(500, rng).release, ['b'])
      assert.deepEqual(p.round(999, rng).release, [])
      assert.deepEqual(p.round(1000, rng).release, ['c'])
    })
    it('holds packets while fewer than minPool are pooled unless their deadline passes', function () {
      const p = new PoissonPool<string>(100, params({ strategy: 'poisson', minPool: 3, maxDelayMs: 1000 }))
      p.add('a', 0, 10, rng); p.add('b', 0, 10, rng)
      assert.deepEqual(p.round(500, rng).release, [])
      p.add('c', 500, 10, rng)
      assert.deepEqual(new Set(p.round(510, rng).release), new Set(['a', 'b', 'c']))
      p.add('d', 600, 10, rng)
      assert.deepEqual(p.round(1599, rng).release, [])
      assert.deepEqual(p.round(1600, rng).release, ['d'])
    })
  })

  describe('linkPadding', function () {
    it('tops every link up to the busiest one and the round up to minBatch', function () {
      const cover = linkPadding(new Map([['a', 3], ['b', 1]]), ['a', 'b', 'c'], 0)
      assert.deepEqual([...cover], [['a', 0], ['b', 2], ['c', 3]])
      assert.deepEqual([...linkPadding(new Map(), ['a', 'b'], 5)], [['a', 3], ['b', 3]])
      assert.deepEqual([...linkPadding(new Map([['x', 2]]), [], 5)], [])
    })
  })

  describe('PoolEntropy', function () {
    it('gives log2(n) for a full flush of n packets that all arrived in one round', function () {
      const e = new PoolEntropy()
      e.arrive(32)
      assert.ok(Math.abs(e.round(32, 32) - 5) < 1e-9)
    })
    it('grows beyond log2(batch) when a pool carries packets over between rounds', function () {
      const e = new PoolEntropy()
      let h = 0
      for (let r = 0; r < 50; r++) { e.arrive(10); h = e.round(r === 0 ? 10 : 20, 10) }
      assert.ok(h > Math.log2(10) + 0.5, `entropy ${h}`)
      assert.ok(h < Math.log2(10 * 50), `entropy ${h}`)
    })
    it('is 0 when nothing leaves', function () {
      const e = new PoolEntropy()
      e.arrive(5)
      assert.equal(e.round(5, 0), 0)
    })
  })
})
