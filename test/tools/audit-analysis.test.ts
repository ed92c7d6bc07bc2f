/**
 * The audit's adversaries and verdict on simulated traffic with known answers (tools/audit/sim.ts
 * runs the real batch strategy and link padding from mix/): the batch mix keeps its promise at
 * every load; the positive controls (no mixing, a FIFO queue with the same counts) fail it
 * widely; each leaky mix is caught, by at least one adversary at twice a uniform guess or more.
 */
import assert from 'node:assert/strict'
import { type CryptoSuite, DEFAULT_MIXING, deterministicRng, exponential, loadCrypto } from '../../mix/index.ts'
import {
  fifoRelabel,
  gaps,
  type InEvent,
  ks,
  type Linkability,
  linkability,
  type OutEvent,
  shape
} from '../../tools/audit/analysis.ts'
import { coverDistinguisher } from '../../tools/audit/cover.ts'
import { type SimMix, simulate } from '../../tools/audit/sim.ts'
import { failsWidely, judge, promisedSet } from '../../tools/audit/verdict.ts'

const K = promisedSet(DEFAULT_MIXING)
const GAP = { gapMs: 50 }

describe('audit analysis', function () {
  this.timeout(30_000)
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })

  const run = (
    mix: SimMix,
    rate: number,
    seconds: number,
    seed = `${mix}-${rate}`
  ): { ins: InEvent[]; outs: OutEvent[] } => simulate(deterministicRng(c, seed), DEFAULT_MIXING, { rate, seconds, mix })
  const score = (
    ins: InEvent[],
    outs: OutEvent[]
  ): { l: Linkability; cover: ReturnType<typeof coverDistinguisher> } => ({
    l: linkability(ins, outs, { ...GAP, warmupMs: 2000 }),
    cover: coverDistinguisher(outs, { gapMs: GAP.gapMs, fromMs: 2000 })
  })

  it('the default batch mix keeps its promise at 20, 100 and 400 packets/s; no adversary beats a uniform guess over the pool by more than 1.25x', function () {
    assert.equal(K, DEFAULT_MIXING.minPool + 1)
    for (const [rate, seconds] of [
      [20, 60],
      [100, 30],
      [400, 10]
    ] as const) {
      const { ins, outs } = run('batch', rate, seconds)
      const { l, cover } = score(ins, outs)
      const v = judge(l, cover, K)
      assert.ok(l.outputs > 1000, `${l.outputs} outputs scored at ${rate}/s`)
      assert.equal(l.missed, 0)
      assert.ok(v.pass, `${rate}/s: ${v.failures.join('; ')}`)
      for (const [name, a] of Object.entries(l.adversaries))
        assert.ok(
          a.success <= 1.25 * l.chance,
          `${rate}/s: ${name} links ${(a.success / l.chance).toFixed(2)}x a uniform guess`
        )
      // Calibrated: the strong adversary's posterior entropy is what it pays on the truth.
      assert.ok(
        Math.abs(l.adversaries.strong.logLossBits - l.entropyBits) < 0.5,
        `${rate}/s: log loss ${l.adversaries.strong.logLossBits.toFixed(2)}, entropy ${l.entropyBits.toFixed(2)}`
      )
    }
  })

  it('positive controls fail widely: a FIFO queue with the same counts (which the pool-count formula cannot see) and a relay that does not mix', function () {
    const { ins, outs } = run('batch', 100, 30)
    const mixed = score(ins, outs)
    const fifo = score(ins, fifoRelabel(ins, outs, GAP))
    // Same arrivals, same round counts: the counts adversary (the gauge's formula) sees no difference.
    assert.ok(Math.abs(fifo.l.adversaries.counts.entropyBits - mixed.l.adversaries.counts.entropyBits) < 0.05)
    assert.ok(fifo.l.adversaries.fifo.success > 0.99, `FIFO links ${fifo.l.adversaries.fifo.success}`)
    assert.ok(fifo.l.adversaries.strong.success > 0.9, `strong links ${fifo.l.adversaries.strong.success}`)
    assert.ok(fifo.l.entropyBits < 1, `the strong posterior collapses: ${fifo.l.entropyBits.toFixed(2)} bits`)
    assert.ok(failsWidely(judge(fifo.l, fifo.cover, K)))

    const rng = deterministicRng(c, 'audit-none')
    const none: InEvent[] = []
    for (let t = 0; t < 30_000; t += exponential(rng, 50)) none.push({ t, link: 0 })
    const passthrough: OutEvent[] = none.map((x, i) => ({ t: x.t + 1, link: 0, size: 2557, source: i }))
    const off = linkability(none, passthrough, { gapMs: 0.5 })
    assert.ok(off.poolPackets < 1.1, 'it holds one packet at a time: "chance" would be 1')
    const v = judge(off, null, K)
    assert.ok(failsWidely(v), `no mixing: ${v.overPromise.toFixed(2)}x the promise`)
    // Forwarding every other packet 0.3 ms after it came, grouped into 50 ms "rounds" by the
    // observer, the rest dropped: no output may come from outside the candidates unnoticed.
    const fast: OutEvent[] = none
      .filter((_, i) => i % 2 === 0)
      .map((x, j) => ({ t: x.t + 0.3, link: 0, size: 2557, source: j * 2 }))
    const quick = linkability(none, fast, { gapMs: 50 })
    assert.equal(quick.missed, 0)
    assert.ok(failsWidely(judge(quick, null, K)), `forwarded at once: ${judge(quick, null, K).failures.join('; ')}`)
    // Held exactly 1 s each, in arrival order, with 1 packet in 30 dropped at random: counting
    // positions (fifo) is thrown off by the drops, so the age feature must catch the fixed delay.
    const held: OutEvent[] = none
      .filter(() => rng.bytes(1)[0]! >= 9)
      .map(x => ({ t: x.t + 1000, link: 0, size: 2557, source: none.indexOf(x) }))
    const hv = judge(linkability(none, held, { gapMs: 50 }), null, K)
    assert.ok(!hv.pass, 'a fixed delay with drops must not pass')
    assert.ok(
      hv.failures.some(f => /strong adversary links/.test(f)),
      hv.failures.join('; ')
    )
  })

  it('each leaky mix is caught: an adversary at 2x a uniform guess or more, and the verdict fails', function () {
    // Arrival order kept within a batch: the leak grows with the batch (about 2 packets at the
    // demo load, where it is too small to catch; 40 at 400/s).
    const order = score(...(Object.values(run('keep-order', 400, 12)) as [InEvent[], OutEvent[]]))
    assert.ok(
      order.l.adversaries.strong.success >= 2 * order.l.chance,
      `keep-order: strong at ${(order.l.adversaries.strong.success / order.l.chance).toFixed(2)}x`
    )
    assert.ok(!judge(order.l, order.cover, K).pass)
    // Real packets before padding on each link: the last frame of a link is padding.
    const first = score(...(Object.values(run('real-first', 400, 12)) as [InEvent[], OutEvent[]]))
    assert.ok(
      first.cover.cover.success >= 2 * first.cover.cover.chance,
      `real-first: padding picked ${(first.cover.cover.success / first.cover.cover.chance).toFixed(2)}x`
    )
    assert.ok(!judge(first.l, first.cover, K).pass)
    // A packet leaves on the link it came in on: half the candidates are ruled out (at most 2x).
    const link = score(...(Object.values(run('same-link', 20, 60)) as [InEvent[], OutEvent[]]))
    assert.ok(
      link.l.adversaries.strong.success >= 1.5 * link.l.chance,
      `same-link: strong at ${(link.l.adversaries.strong.success / link.l.chance).toFixed(2)}x`
    )
    assert.ok(!judge(link.l, link.cover, K).pass)
  })

  it('the verdict: a success above 1/k, or above 1.5x the pool, or too little entropy, or a cover pick above chance, each fails', function () {
    const ok = { success: 0.05, entropyBits: 4, logLossBits: 4 }
    const base: Linkability = {
      outputs: 10_000,
      adversaries: { fifo: ok, nearest: ok, counts: ok, strong: ok },
      best: { name: 'fifo', success: 0.05 },
      entropyBits: 4,
      p5EntropyBits: 3,
      poolPackets: 20,
      chance: 0.05,
      batchPackets: 5,
      missed: 0,
      lost: 0,
      inputs: 10_000
    }
    const fair = { bursts: 1000, real: { success: 0.5, chance: 0.5 }, cover: { success: 0.5, chance: 0.5 } }
    assert.ok(judge(base, fair, 9).pass)
    assert.match(
      judge(
        { ...base, adversaries: { ...base.adversaries, nearest: { ...ok, success: 0.2 } } },
        fair,
        9
      ).failures.join(),
      /nearest adversary links 20.0% \(promise/
    )
    assert.match(
      judge(
        { ...base, adversaries: { ...base.adversaries, strong: { ...ok, success: 0.09 } } },
        fair,
        9
      ).failures.join(),
      /1.8x a uniform guess/
    )
    assert.match(judge({ ...base, entropyBits: 2 }, fair, 9).failures.join(), /keeps 2.00 bits/)
    assert.match(
      judge(base, { ...fair, cover: { success: 0.6, chance: 0.5 } }, 9).failures.join(),
      /picks a padding frame 60.0%/
    )
    assert.ok(!judge({ ...base, outputs: 0 }, fair, 9).pass)
    assert.match(
      judge({ ...base, missed: 1 }, fair, 9).failures.join(),
      /1 outputs came from an input the adversaries did not consider/
    )
    assert.ok(judge(base, fair, 9, { frameSizes: [2557], rounds: 100, unevenRounds: 3 }).pass)
    assert.match(
      judge(base, fair, 9, { frameSizes: [2557], rounds: 100, unevenRounds: 4 }).failures.join(),
      /4 of 100 rounds carried different counts/
    )
    assert.match(
      judge(base, fair, 9, { frameSizes: [1200, 2557], rounds: 100, unevenRounds: 0 }).failures.join(),
      /frames of 2 sizes/
    )
  })

  it('KS tells one distribution from another; shape counts uneven rounds and frame sizes', function () {
    const rng = deterministicRng(c, 'audit-ks')
    const a = Array.from({ length: 2000 }, () => exponential(rng, 100))
    const b = Array.from({ length: 2000 }, () => exponential(rng, 100))
    const d = Array.from({ length: 2000 }, () => exponential(rng, 130))
    assert.ok(ks(a, b).p > 0.01)
    assert.ok(ks(a, d).p < 0.001)
    assert.deepEqual(gaps([3, 1, 6]), [2, 3])
    const outs: OutEvent[] = [
      { t: 0, link: 0, size: 2557, source: null },
      { t: 0.1, link: 1, size: 2557, source: null },
      { t: 100, link: 0, size: 2557, source: null },
      { t: 100.2, link: 0, size: 1200, source: null }
    ]
    assert.deepEqual(shape(outs, [0, 1], 10), { frameSizes: [1200, 2557], rounds: 2, unevenRounds: 1 })
  })
})
