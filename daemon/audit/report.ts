/**
 * `sealmix audit`: runs the observation grid against real relay processes and against one mix of
 * the running devnet, scores it with the adversaries of analysis.ts, and reports a table, JSON
 * (full results and three headline figures) and an SVG plot of entropy and linking success
 * against load and mixing delay, with the latency each setting costs.
 */
import type { CryptoSuite, MixingParams } from '../../mix/index.ts'
import { DEFAULT_MIXING } from '../network-file.ts'
import { gaps, ks, linkability, shape, type Linkability } from './analysis.ts'
import { observe } from './relay-run.ts'
import { observeDevnet } from './devnet-run.ts'
import { plot } from './svg.ts'

/** Offered packets per second at one mix of `npm start`'s devnet (measured, docs/BENCHMARKS.md). */
export const DEMO_LOAD = 20

export interface AuditCase {
  readonly name: string
  readonly mixing: MixingParams
  readonly rate: number
  readonly seconds: number
  readonly sent: number
  readonly arrived: number
  readonly latencyP50Ms: number
  /** Mean of the relay's exported sealmix_mix_pool_entropy during the run, beside the measured entropy. */
  readonly gaugeEntropyBits: number
  readonly linkability: Linkability
  readonly shape: { frameSizes: number[], rounds: number, unevenRounds: number }
}

export interface AuditResult {
  readonly cases: AuditCase[]
  readonly negativeControl: AuditCase
  /** mix-2 of `sealmix devnet` under its demo traffic, observed through recording taps. */
  readonly devnet: { readonly seconds: number, readonly forwardedPerSecond: number, readonly linkability: Linkability, readonly shape: { frameSizes: number[], rounds: number, unevenRounds: number } }
  /** Inter-departure times at 100% vs 0% real traffic, same offered load: default parameters, and with minBatch raised to 8. */
  readonly timing: Array<{ readonly minBatch: number, readonly ksD: number, readonly ksP: number, readonly rate: number }>
  readonly valid: boolean
  readonly headline: { readonly entropyGapBits: number, readonly maxSuccessOverChance: number, readonly negativeControlSuccess: number }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]! }

async function runCase (c: CryptoSuite, name: string, mixing: MixingParams, rate: number, seconds: number): Promise<AuditCase> {
  const ob = await observe(c, { mixing, rate, seconds })
  const gapMs = Math.max(0.5, mixing.intervalMs / 2)
  return {
    name, mixing, rate, seconds, sent: ob.sent, arrived: ob.arrived, latencyP50Ms: median(ob.latencies),
    gaugeEntropyBits: ob.gaugeEntropyBits.length === 0 ? NaN : ob.gaugeEntropyBits.reduce((a, b) => a + b, 0) / ob.gaugeEntropyBits.length,
    linkability: linkability(ob.ins, ob.outs, { gapMs, marginMs: 0.5, warmupMs: Math.min(2000, seconds * 200) }),
    shape: shape(ob.outs, ob.sinks, gapMs)
  }
}

export async function runAudit (c: CryptoSuite, o: { quick?: boolean, print: (line: string) => void }): Promise<AuditResult> {
  const s = o.quick === true ? 0.25 : 1
  const secs = (n: number): number => Math.max(4, Math.round(n * s))
  const cases: AuditCase[] = []
  const add = async (name: string, mixing: MixingParams, rate: number, seconds: number): Promise<AuditCase> => {
    const k = await runCase(c, name, mixing, rate, seconds)
    o.print(row(k))
    return k
  }
  o.print(header())
  cases.push(await add('default', DEFAULT_MIXING, DEMO_LOAD, secs(40)))
  for (const rate of [100, 400]) cases.push(await add('default', DEFAULT_MIXING, rate, secs(10)))
  for (const intervalMs of [20, 300]) cases.push(await add(`interval ${intervalMs} ms`, { ...DEFAULT_MIXING, intervalMs }, 100, secs(10)))
  const dv = await observeDevnet(c, secs(40))
  const devnet = { seconds: dv.seconds, forwardedPerSecond: dv.ins.length / dv.seconds, linkability: linkability(dv.ins, dv.outs, { gapMs: 50, marginMs: 0.5, warmupMs: 3000 }), shape: shape(dv.outs, [0], 50) }
  o.print(row({ name: 'devnet mix-2 (demo traffic)', mixing: { ...DEFAULT_MIXING, intervalMs: 100 }, rate: Math.round(devnet.forwardedPerSecond), seconds: dv.seconds, sent: dv.ins.length, arrived: dv.ins.length, latencyP50Ms: NaN, gaugeEntropyBits: NaN, linkability: devnet.linkability, shape: devnet.shape }))
  const off: MixingParams = { ...DEFAULT_MIXING, strategy: 'poisson', intervalMs: 1, minPool: 0, minBatch: 0, maxDelayMs: 0 }
  const negativeControl = await add('no mixing (control)', off, DEMO_LOAD, secs(15))
  // Timing: with all real and with no real traffic at the demo load, do departures look alike?
  const timing: AuditResult['timing'] = []
  for (const minBatch of [DEFAULT_MIXING.minBatch, 8]) {
    const departures: number[][] = []
    for (const share of [1, 0]) departures.push(gaps((await observe(c, { mixing: { ...DEFAULT_MIXING, minBatch }, rate: DEMO_LOAD, seconds: secs(20), realShare: share })).outs.map(x => x.t)))
    const k = ks(departures[0]!, departures[1]!)
    timing.push({ minBatch, ksD: k.d, ksP: k.p, rate: DEMO_LOAD })
    o.print(`inter-departure times, 100% vs 0% real traffic at ${DEMO_LOAD}/s, minBatch ${minBatch}: KS D = ${k.d.toFixed(3)}, p = ${k.p.toFixed(3)}`)
  }
  const def = cases[0]!.linkability
  const negativeControlSuccess = negativeControl.linkability.success.fifo
  const headline = {
    entropyGapBits: def.idealBatchBits - def.meanEntropyBits,
    maxSuccessOverChance: Math.max(def.successOverChance.ml, def.successOverChance.fifo, def.successOverChance.nearest),
    negativeControlSuccess
  }
  const valid = negativeControlSuccess >= 0.9
  if (!valid) o.print(`AUDIT INVALID: the negative control linked only ${(negativeControlSuccess * 100).toFixed(1)}% (at least 90% required)`)
  return { cases, negativeControl, devnet, timing, valid, headline }
}

export function header (): string {
  return 'configuration              load/s  outputs  H mean  H p5  gauge H  log2 batch  log2 pool  ML/chance  FIFO/chance  nearest/chance  latency p50  frame sizes  uneven rounds'
}

export function row (k: AuditCase): string {
  const l = k.linkability
  const f = (x: number, d = 2): string => Number.isNaN(x) ? '-' : x.toFixed(d)
  return [k.name.padEnd(26), String(k.rate).padStart(6), String(l.outputs).padStart(8), f(l.meanEntropyBits).padStart(7), f(l.p5EntropyBits).padStart(5), f(k.gaugeEntropyBits).padStart(8), f(l.idealBatchBits).padStart(11), f(l.idealPoolBits).padStart(10),
    f(l.successOverChance.ml).padStart(10), f(l.successOverChance.fifo).padStart(12), f(l.successOverChance.nearest).padStart(15), `${f(k.latencyP50Ms, 0)} ms`.padStart(12), k.shape.frameSizes.join(',').padStart(12), String(k.shape.unevenRounds).padStart(14)].join(' ')
}

export function auditSvg (r: AuditResult): string {
  const byLoad = r.cases.filter(k => k.name === 'default').sort((a, b) => a.rate - b.rate)
  const byDelay = r.cases.filter(k => k.rate === 100).sort((a, b) => a.mixing.intervalMs - b.mixing.intervalMs)
  const maxRatio = (k: AuditCase): number => Math.max(k.linkability.successOverChance.ml, k.linkability.successOverChance.fifo, k.linkability.successOverChance.nearest)
  return plot([
    { title: 'Default batch mixing: anonymity against load', xLabel: 'offered load (packets/s)', x: byLoad.map(k => k.rate), labels: byLoad.map(k => `${Math.round(k.latencyP50Ms)} ms`), series: [
      { name: 'measured entropy (bits)', y: byLoad.map(k => k.linkability.meanEntropyBits), axis: 'left' },
      { name: 'log2 batch size', y: byLoad.map(k => k.linkability.idealBatchBits), axis: 'left', dashed: true },
      { name: 'best adversary / chance', y: byLoad.map(maxRatio), axis: 'right' }] },
    { title: 'Mixing interval at 100 packets/s', xLabel: 'round interval (ms)', x: byDelay.map(k => k.mixing.intervalMs), labels: byDelay.map(k => `${Math.round(k.latencyP50Ms)} ms`), series: [
      { name: 'measured entropy (bits)', y: byDelay.map(k => k.linkability.meanEntropyBits), axis: 'left' },
      { name: 'log2 batch size', y: byDelay.map(k => k.linkability.idealBatchBits), axis: 'left', dashed: true },
      { name: 'best adversary / chance', y: byDelay.map(maxRatio), axis: 'right' }] }
  ], 'labels under each point: median latency the relay adds at that setting')
}
