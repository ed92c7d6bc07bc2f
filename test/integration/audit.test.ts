/**
 * The audit against a real relay process (short runs; `npm run audit` makes the full
 * measurement). Default batch mixing keeps the promise of its strategy, with one frame size and
 * equal per-link counts in every round; a FIFO queue with the same counts and a relay with mixing
 * off both fail it widely, from the command line too. The pool-entropy gauge matches the
 * truth-scored entropy on the real mix, and reads the same for the FIFO queue, which it cannot
 * tell apart (docs/METRICS.md says so).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { type CryptoSuite, DEFAULT_MIXING, loadCrypto } from '../../mix/index.ts'
import { fifoRelabel, linkability, shape } from '../../tools/audit/analysis.ts'
import { coverDistinguisher } from '../../tools/audit/cover.ts'
import { observe } from '../../tools/audit/relay-run.ts'
import { NO_MIXING } from '../../tools/audit/report.ts'
import { failsWidely, judge, promisedSet } from '../../tools/audit/verdict.ts'
import { SEALMIX } from '../helpers/bundle.ts'

const K = promisedSet(DEFAULT_MIXING)

async function sealmix(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawn(SEALMIX[0]!, [...SEALMIX.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  p.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const code = await new Promise<number | null>(resolve => p.on('exit', resolve))
  return { code, out }
}

describe('anonymity audit against a real relay', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })

  it('default batch mixing keeps its promise; the FIFO queue with the same counts fails it widely, and the gauge cannot tell the two apart', async function () {
    const ob = await observe(c, { mixing: DEFAULT_MIXING, rate: 100, seconds: 8 })
    assert.ok(
      ob.arrived >= ob.sent - DEFAULT_MIXING.minPool - 2,
      `all but the pool's floor came out (${ob.arrived} of ${ob.sent})`
    )
    const o = { gapMs: DEFAULT_MIXING.intervalMs / 2 }
    const l = linkability(ob.ins, ob.outs, { ...o, warmupMs: 1000 })
    assert.ok(l.outputs >= 400, `${l.outputs} outputs scored`)
    const v = judge(l, coverDistinguisher(ob.outs, o), K)
    assert.ok(v.pass, v.failures.join('; '))
    const sh = shape(ob.outs, ob.sinks, o.gapMs)
    assert.deepEqual(sh.frameSizes, [2557])
    assert.equal(
      sh.unevenRounds,
      0,
      `${sh.unevenRounds} of ${sh.rounds} rounds carried different counts on the two links`
    )

    const gauge = ob.gaugeEntropyBits.reduce((a, b) => a + b, 0) / ob.gaugeEntropyBits.length
    assert.ok(ob.gaugeEntropyBits.length >= 10)
    assert.ok(
      Math.abs(gauge - l.entropyBits) <= 0.5,
      `on the real mix: gauge ${gauge.toFixed(2)} bits, truth-scored ${l.entropyBits.toFixed(2)} bits`
    )
    const fifoOuts = fifoRelabel(ob.ins, ob.outs, o)
    const fifo = linkability(ob.ins, fifoOuts, { ...o, warmupMs: 1000 })
    const fv = judge(fifo, coverDistinguisher(fifoOuts, o), K)
    assert.ok(failsWidely(fv), `FIFO queue at ${fv.overPromise.toFixed(2)}x the promise`)
    // The gauge would read the same for it (same counts), yet the truth says almost nothing is hidden.
    assert.ok(
      gauge - fifo.entropyBits > 2,
      `on the FIFO queue: gauge ${gauge.toFixed(2)} bits, truth-scored ${fifo.entropyBits.toFixed(2)} bits`
    )
  })

  it('positive control: with mixing off the relay fails the default promise widely', async function () {
    const ob = await observe(c, { mixing: NO_MIXING, rate: 20, seconds: 8 })
    const l = linkability(ob.ins, ob.outs, { gapMs: 0.5 })
    const v = judge(l, coverDistinguisher(ob.outs, { gapMs: 0.5 }), K)
    assert.ok(failsWidely(v), `mixing off at ${v.overPromise.toFixed(2)}x the promise: ${v.failures.join('; ')}`)
  })

  it('`sealmix audit --only`: off and fifo exit 1 naming the broken promise; batch exits 0', async function () {
    for (const [only, code] of [
      ['off', 1],
      ['fifo', 1],
      ['batch', 0]
    ] as const) {
      const r = await sealmix(['audit', '--only', only, '--quick'])
      assert.equal(r.code, code, `--only ${only}:\n${r.out}`)
      assert.match(
        r.out,
        code === 0 ? new RegExp(`${only}: keeps the promise of an anonymity set of ${K}`) : /fails: .*adversary links/
      )
    }
  })
})
