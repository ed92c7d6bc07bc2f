import assert from 'node:assert/strict'
import { AuthorityConfigSchema } from '../../daemon/index.ts'
import {
  BatchPool,
  type CryptoSuite,
  clientHopDelayMs,
  createPool,
  DEFAULT_MIXING,
  deterministicRng,
  linkPadding,
  loadCrypto,
  MIXING_STRATEGIES,
  MixError,
  type MixingParams,
  NETWORK_GEOMETRY,
  PoissonPool,
  PoolEntropy,
  promisedAnonymitySet,
  type Rng,
  randomInt,
  STRATEGY_NAMES,
  shuffle,
  verifyDocument
} from '../../mix/index.ts'
import { signedBytes, testDocument, testRelay } from '../helpers/network.ts'

const params = (over: Partial<MixingParams> = {}): MixingParams => ({
  strategy: 'batch',
  intervalMs: 100,
  minPool: 4,
  flushFraction: 0.7,
  minBatch: 0,
  maxDelayMs: 5000,
  loopRatePerSec: 0,
  ...over
})

describe('mixing', function () {
  let rng: Rng
  before(async function () {
    rng = deterministicRng(await loadCrypto('sodium-native'), 'mixing')
  })

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
        a.forEach((v, i) => {
          pos[v]![i]++
        })
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
      for (let i = 0; i < 1000; i++) {
        const d = p.add(i, 0, 0, rng)
        if (d !== undefined) dropped.push(d)
      }
      assert.equal(p.size, 10)
      assert.equal(dropped.length, 990)
      assert.ok(
        dropped.some(d => d < 10),
        'early packets can be evicted'
      )
      assert.ok(
        dropped.some(d => d >= 990),
        'late packets can be refused'
      )
    })
    it('takes a new bound on resize (a reload) without dropping what it holds', function () {
      const p = new BatchPool<number>(4, params())
      for (let i = 0; i < 4; i++) assert.equal(p.add(i, 0, 0, rng), undefined)
      assert.notEqual(p.add(4, 0, 0, rng), undefined, 'control: at the bound, an add drops one')
      p.resize(2)
      assert.equal(p.size, 4, 'lowering the bound drops nothing held')
      assert.notEqual(p.add(5, 0, 0, rng), undefined, 'over the lowered bound, an add replaces one')
      assert.equal(p.size, 4)
      p.resize(6)
      assert.equal(p.add(6, 0, 0, rng), undefined, 'under the raised bound, an add is kept')
      assert.equal(p.add(7, 0, 0, rng), undefined)
      assert.equal(p.size, 6)
      assert.notEqual(p.add(8, 0, 0, rng), undefined, 'and the raised bound holds')
    })
  })

  describe('PoissonPool', function () {
    it('releases each packet after its delay, clamped to maxDelayMs', function () {
      const p = new PoissonPool<string>(100, params({ strategy: 'poisson', minPool: 0, maxDelayMs: 1000 }))
      p.add('a', 0, 50, rng)
      p.add('b', 0, 500, rng)
      p.add('c', 0, 1e9, rng)
      assert.deepEqual(p.round(49, rng).release, [])
      assert.deepEqual(p.round(50, rng).release, ['a'])
      assert.deepEqual(p.round(500, rng).release, ['b'])
      assert.deepEqual(p.round(999, rng).release, [])
      assert.deepEqual(p.round(1000, rng).release, ['c'])
    })
    it('holds packets while fewer than minPool are pooled unless their deadline passes', function () {
      const p = new PoissonPool<string>(100, params({ strategy: 'poisson', minPool: 3, maxDelayMs: 1000 }))
      p.add('a', 0, 10, rng)
      p.add('b', 0, 10, rng)
      assert.deepEqual(p.round(500, rng).release, [])
      p.add('c', 500, 10, rng)
      assert.deepEqual(new Set(p.round(510, rng).release), new Set(['a', 'b', 'c']))
      p.add('d', 600, 10, rng)
      assert.deepEqual(p.round(1599, rng).release, [])
      assert.deepEqual(p.round(1600, rng).release, ['d'])
    })
  })

  describe('the strategy table', function () {
    let c: CryptoSuite
    before(async function () {
      c = await loadCrypto('sodium-native')
    })
    const now = Date.UTC(2026, 10, 27)
    /** Whether the authority's config schema takes this strategy name. */
    const schemaTakes = (strategy: unknown): boolean =>
      AuthorityConfigSchema.safeParse({
        signingKeyFile: 'k',
        network: 'n',
        epoch: { genesisMs: 0 },
        admissionFile: 'a',
        mixing: { strategy }
      }).success
    /** Whether a node takes a signed document whose mixing section names this strategy. */
    const documentTakes = (strategy: unknown): boolean => {
      const signer = c.signSeedKeypair(Buffer.alloc(32, 7))
      const d = testDocument(c, [testRelay(c, rng, 'gateway', 0, 'ws://127.0.0.1:1')], {}, now)
      const bytes = signedBytes(c, { ...d, mixing: { ...d.mixing, strategy: strategy as MixingParams['strategy'] } }, [
        signer
      ])
      const r = verifyDocument(c, bytes, { signers: [signer.publicKey], geometry: NETWORK_GEOMETRY, nowMs: now })
      if (!r.ok)
        assert.equal(
          `${r.code}/${r.detail ?? ''}`,
          'DIR_MALFORMED/mixing',
          'a strategy is refused as a bad mixing section, nothing else'
        )
      return r.ok
    }
    const NOT_NAMES = ['stop-and-go', 'Batch', '', 'toString', '__proto__', 'constructor', 7, null]

    it("names exactly what the authority's config schema and the document check take", function () {
      assert.deepEqual([...STRATEGY_NAMES], Object.keys(MIXING_STRATEGIES))
      assert.deepEqual([...STRATEGY_NAMES].sort(), ['batch', 'poisson'], 'the strategies docs/PROTOCOL.md §18 names')
      for (const name of STRATEGY_NAMES) {
        assert.ok(schemaTakes(name), `the schema takes ${name}`)
        assert.ok(documentTakes(name), `a document may name ${name}`)
      }
      for (const name of NOT_NAMES) {
        assert.ok(!schemaTakes(name), `the schema refuses ${String(name)}`)
        assert.ok(!documentTakes(name), `a document naming ${String(name)} is refused`)
      }
      // The relay's config names no strategy: a relay mixes as its network document says.
    })

    it("builds each strategy's own pool, and refuses a name it does not hold", function () {
      for (const name of STRATEGY_NAMES)
        assert.ok(createPool<number>(params({ strategy: name }), 10) instanceof MIXING_STRATEGIES[name].Pool, name)
      assert.throws(
        () => createPool<number>(params({ strategy: 'stop-and-go' as MixingParams['strategy'] }), 10),
        (e: unknown) => e instanceof MixError && e.code === 'MIX_BAD_ARGUMENT'
      )
    })

    it('is closed: nothing can be added to it or changed while running', function () {
      // Every node must take or refuse a document's strategy alike: a name registered at run time
      // would make that depend on what a process had loaded. A strategy is added in the source
      // (its pool class and one line in mix/mixing/registry.ts), so every build of it agrees.
      assert.ok(Object.isFrozen(MIXING_STRATEGIES))
      for (const name of STRATEGY_NAMES) assert.ok(Object.isFrozen(MIXING_STRATEGIES[name]), name)
      assert.throws(() => {
        ;(MIXING_STRATEGIES as Record<string, unknown>)['stop-and-go'] = { Pool: BatchPool }
      }, TypeError)
      assert.throws(() => {
        ;(MIXING_STRATEGIES as Record<string, { Pool: unknown }>).batch!.Pool = PoissonPool
      }, TypeError)
      assert.throws(() => {
        ;(STRATEGY_NAMES as unknown as string[]).push('stop-and-go')
      }, TypeError)
      assert.ok(
        !schemaTakes('stop-and-go') && !documentTakes('stop-and-go'),
        'and the name is still refused everywhere'
      )
      assert.equal(MIXING_STRATEGIES.batch.Pool, BatchPool)
    })
  })

  describe('linkPadding', function () {
    it('tops every link up to the busiest one and the round up to minBatch', function () {
      const cover = linkPadding(
        new Map([
          ['a', 3],
          ['b', 1]
        ]),
        ['a', 'b', 'c'],
        0
      )
      assert.deepEqual(
        [...cover],
        [
          ['a', 0],
          ['b', 2],
          ['c', 3]
        ]
      )
      assert.deepEqual(
        [...linkPadding(new Map(), ['a', 'b'], 5)],
        [
          ['a', 3],
          ['b', 3]
        ]
      )
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
      for (let r = 0; r < 50; r++) {
        e.arrive(10)
        h = e.round(r === 0 ? 10 : 20, 10)
      }
      assert.ok(h > Math.log2(10) + 0.5, `entropy ${h}`)
      assert.ok(h < Math.log2(10 * 50), `entropy ${h}`)
    })
    it('is 0 when nothing leaves', function () {
      const e = new PoolEntropy()
      e.arrive(5)
      assert.equal(e.round(5, 0), 0)
    })
  })

  describe('what each strategy promises, from its registry entry', function () {
    it('batch promises minPool + 1 and no per-hop delay; poisson minPool and 50 ms per hop', function () {
      const batch = { ...DEFAULT_MIXING, strategy: 'batch' as const, minPool: 8 }
      const poisson = { ...DEFAULT_MIXING, strategy: 'poisson' as const, minPool: 8 }
      assert.equal(promisedAnonymitySet(batch), 9)
      assert.equal(promisedAnonymitySet(poisson), 8)
      assert.equal(promisedAnonymitySet({ ...poisson, minPool: 0 }), 1)
      assert.equal(clientHopDelayMs(batch), 0)
      assert.equal(clientHopDelayMs(poisson), 50)
      for (const name of STRATEGY_NAMES) assert.equal(typeof MIXING_STRATEGIES[name].promisedSet, 'function')
    })
  })
})
