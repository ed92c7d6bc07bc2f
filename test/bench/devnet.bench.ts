/**
 * End to end: `sealmix devnet` as separate processes, measured for
 * SEALMIX_BENCH_DEVNET_SECONDS (default 60) from the moment the demo clients start (the
 * network's start-up is not in the rates). Counts come from the nodes' Prometheus metrics (the
 * devnet prints each node's /metrics address; scraped when the clients start and at the end):
 * loops sent and returned, packets forwarded, drops, messages the ingress delivered. The demo
 * clients' acks exist only in the clients' own events, which the devnet tallies (DemoTally): the
 * acks that came in the window give the latency percentiles and, from the stages each ack
 * carries (client/latency.ts), the tail breakdown (tools/devnet/tail.ts). No ack in the window
 * is an error, not a NaN.
 *
 * The inherent delay is what the mixing gives at the traffic the relays saw: their rounds and
 * releases (`sealmix_mix_batch_packets`) and pool sizes (`sealmix_mix_pool_packets`, sampled
 * every 2 s) over the window. SEALMIX_BENCH_DEVNET_ACKS=FILE appends each run's acks (JSON lines).
 */

import { appendFileSync } from 'node:fs'
import { clientHopDelayMs } from '../../mix/index.ts'
import { DemoTally, scrape } from '../../tools/devnet/status.ts'
import {
  type Dist,
  inherentMixing,
  DEVNET_PATHS as PATHS,
  type RelayRounds,
  STAGE_NAMES,
  tailBreakdown
} from '../../tools/devnet/tail.ts'
import { runDevnet } from '../../tools/index.ts'
import { DEVNET_MIXING } from '../../tools/network/layout.ts'
import type { BenchResult } from './harness.ts'

const SECONDS = Number(process.env.SEALMIX_BENCH_DEVNET_SECONDS ?? 60)
const START_SECONDS = Number(process.env.SEALMIX_BENCH_DEVNET_START_SECONDS ?? 180)
const RELAYS = ['gateway-a', 'gateway-b', 'mix-1', 'mix-2', 'mix-3']
const ACKS_FILE = process.env.SEALMIX_BENCH_DEVNET_ACKS

type Metrics = Map<string, number>
const sum = (ms: Metrics[], f: (k: string) => boolean): number =>
  ms.reduce((s, m) => s + [...m].filter(([k]) => f(k)).reduce((a, [, v]) => a + v, 0), 0)

export async function benchDevnet(): Promise<BenchResult[]> {
  const ports = new Map<string, number>()
  const tally = new DemoTally(() => performance.now())
  let status = ''
  let statusAt = 0
  let runningAt: number | undefined
  let stop!: () => void
  const stopped = new Promise<void>(resolve => {
    stop = resolve
  })
  const run = runDevnet({
    print: line => {
      const m = /^\s+(\S+)\s+metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(line)
      if (m !== null) ports.set(m[1]!, Number(m[2]))
      else if (line.startsWith('devnet: every relay and the ingress are listed and linked'))
        runningAt = performance.now()
      else if (line.includes('stopped unexpectedly') || line.includes('could not start')) console.log(`  ${line}`)
    },
    status: line => {
      status = line
      statusAt = performance.now()
    },
    stop: stopped,
    tally
  })
  let failed: unknown
  void run.catch(e => {
    failed = e
  })
  const t0 = performance.now()
  while (runningAt === undefined && failed === undefined && performance.now() - t0 < START_SECONDS * 1000)
    await sleep(100)
  if (runningAt === undefined) {
    stop()
    await run.catch(() => {})
    throw new Error(
      `bench: the devnet did not start within ${START_SECONDS} s${failed === undefined ? '' : `: ${String(failed)}`}; last status: ${status}`
    )
  }
  const missing = [...RELAYS, 'ingress'].filter(n => !ports.has(n))
  if (missing.length > 0) {
    stop()
    await run
    throw new Error(`bench: no metrics address printed for ${missing.join(', ')}`)
  }
  const scrapeAll = async (): Promise<{ relays: Metrics[]; ingress: Metrics }> => {
    const relays = await Promise.all(RELAYS.map(async n => await scrape(ports.get(n)!)))
    return { relays, ingress: await scrape(ports.get('ingress')!) }
  }
  const startup = (runningAt - t0) / 1000
  const first = await scrapeAll()
  const from = performance.now()
  // The pool gauges, sampled through the window (each is the pool after that relay's last round).
  const pools = new Map<string, number[]>(RELAYS.map(n => [n, []]))
  while (performance.now() - from < SECONDS * 1000) {
    await sleep(Math.min(2000, Math.max(0, SECONDS * 1000 - (performance.now() - from))))
    const ms = await Promise.all(RELAYS.map(async n => await scrape(ports.get(n)!)))
    ms.forEach((m, i) => {
      const v = m.get('sealmix_mix_pool_packets')
      if (v !== undefined) pools.get(RELAYS[i]!)!.push(v)
    })
  }
  const last = await scrapeAll()
  const to = performance.now()
  // The status line comes every 2 s: take one made after the measured window.
  while (statusAt < to && performance.now() - to < 5000) await sleep(100)
  const line = status
  stop()
  await run
  const secs = (to - from) / 1000
  const down = [...first.relays, ...last.relays, first.ingress, last.ingress].filter(m => m.size === 0).length
  if (down > 0) throw new Error(`bench: ${down} metrics scrapes of the devnet failed`)
  const delta = (f: (k: string) => boolean): number => sum(last.relays, f) - sum(first.relays, f)
  const loopsSent = delta(k => k === 'sealmix_loops_sent_total')
  const loopsBack = delta(k => k === 'sealmix_loops_returned_total')
  const forwarded = delta(k => k === 'sealmix_packets_sent_total{link="peer"}')
  const padding = delta(k => k === 'sealmix_cover_sent_total{kind="link"}')
  const drops = delta(k => k.startsWith('sealmix_packets_dropped_total'))
  const reasons = [...new Set(last.relays.flatMap(m => [...m.keys()]))]
    .map(k => /^sealmix_packets_dropped_total\{reason="(\w+)"\}$/.exec(k)?.[1])
    .filter((r): r is string => r !== undefined)
    .map(r => [r, delta(k => k === `sealmix_packets_dropped_total{reason="${r}"}`)] as const)
    .filter(([, n]) => n > 0)
  const dropText = reasons.length === 0 ? '' : ` (${reasons.map(([r, n]) => `${r} ${n}`).join(', ')})`
  const delivered =
    sum([last.ingress], k => k === 'sealmix_ingress_messages_total{result="delivered"}') -
    sum([first.ingress], k => k === 'sealmix_ingress_messages_total{result="delivered"}')
  const acks = tally.acks.filter(a => a.atMs >= from && a.atMs <= to)
  if (acks.length === 0) throw new Error(`bench: no demo message was acknowledged in the window; last status: ${line}`)
  if (ACKS_FILE !== undefined)
    appendFileSync(
      ACKS_FILE,
      acks.map(a => JSON.stringify({ ...a, atMs: Math.round(a.atMs - from) })).join('\n') + '\n'
    )
  console.log(`  devnet: started in ${startup.toFixed(0)} s, measured ${secs.toFixed(0)} s: ${line}`)
  const r2 = (x: number): number => Math.round(x * 100) / 100
  const tail = tailBreakdown(acks)
  const lat = tail.latency
  const rounds: RelayRounds[] = RELAYS.map((name, i) => {
    const d = (k: string): number => (last.relays[i]!.get(k) ?? 0) - (first.relays[i]!.get(k) ?? 0)
    const ps = pools.get(name)!
    return {
      name,
      rounds: d('sealmix_mix_batch_packets_count'),
      released: d('sealmix_mix_batch_packets_sum'),
      seconds: secs,
      poolMean: ps.length === 0 ? DEVNET_MIXING.minPool : ps.reduce((a, b) => a + b, 0) / ps.length
    }
  })
  const hopDelayMs = DEVNET_MIXING.hopDelayMs ?? clientHopDelayMs(DEVNET_MIXING)
  const inherent = inherentMixing(DEVNET_MIXING, hopDelayMs, rounds, PATHS, Math.random)
  const sinkCount =
    sum([last.ingress], k => k === 'sealmix_ingress_sink_seconds_count') -
    sum([first.ingress], k => k === 'sealmix_ingress_sink_seconds_count')
  const sinkSum =
    sum([last.ingress], k => k === 'sealmix_ingress_sink_seconds_sum') -
    sum([first.ingress], k => k === 'sealmix_ingress_sink_seconds_sum')
  const sinkMs = sinkCount > 0 ? (1000 * sinkSum) / sinkCount : NaN
  console.log(breakdownTable(tail, inherent.simulated, inherent.meanMs))
  console.log(
    `    ${tail.resent.n} acks of re-sent attempts, ${tally.failed} failed; ${drops} packets dropped${dropText}; the ingress's homeserver call: mean ${Math.round(sinkMs)} ms`
  )
  const perRelay = rounds
    .map(
      r =>
        `${r.name} ${Math.round(inherent.perRelayMs[r.name]!)} ms (${r2(r.released / Math.max(1, r.rounds))}/round, pool ${r2(r.poolMean)}, a round every ${r2((secs * 1000) / Math.max(1, r.rounds))} ms)`
    )
    .join(', ')
  const r0 = (x: number): number => Math.round(x)
  const stageResults: BenchResult[] = STAGE_NAMES.flatMap(([k, short]) => [
    { name: `devnet/stage-${short}-p50`, unit: 'ms', value: r0(tail.stages[k].p50) },
    {
      name: `devnet/stage-${short}-p99`,
      unit: 'ms',
      value: r0(tail.stages[k].p99),
      note: `mean ${r0(tail.stages[k].mean)} ms, max ${r0(tail.stages[k].max)} ms; mean over the acks at or above the p99 latency: ${r0(tail.tail99.mean[k])} ms (p90 and above: ${r0(tail.tail90.mean[k])} ms)`
    }
  ])
  return [
    {
      name: 'devnet/messages-acked',
      unit: 'messages/s',
      value: r2(lat.n / secs),
      note: `${lat.n} demo messages acknowledged in ${secs.toFixed(0)} s after the clients started (alice and bob, one message every 2-3 s each plus replies, beside the room demo's three members); the ingress delivered ${delivered} to the homeserver`
    },
    {
      name: 'devnet/ack-latency-p50',
      unit: 'ms',
      value: r0(lat.p50),
      note: "send to delivery ack, through 5 relays and back via a SURB and the mailbox (the clients' events)"
    },
    { name: 'devnet/ack-latency-p90', unit: 'ms', value: r0(lat.p90) },
    {
      name: 'devnet/ack-latency-p99',
      unit: 'ms',
      value: r0(lat.p99),
      note: `over the ${lat.n} acks of the run (max ${r0(lat.max)} ms); ${tail.resent.n} were of a re-sent attempt, ${tail.epochCrossed.n} crossed an epoch change (their p50 ${r0(tail.epochCrossed.p50)} ms)`
    },
    {
      name: 'devnet/p99-over-p50',
      unit: 'ratio',
      value: Math.round((lat.p99 / lat.p50) * 1000) / 1000,
      note: 'target <= 2.0 with the default mixing parameters'
    },
    {
      name: 'devnet/inherent-delay',
      unit: 'ms',
      value: r0(inherent.meanMs),
      note: `the mixing's own delay over the 10 pools of a message and its ack, at the traffic of the run (Little's law per relay: ${perRelay}); simulated with those pools: p50 ${r0(inherent.simulated.p50)} ms, p99 ${r0(inherent.simulated.p99)} ms (p99/p50 ${r2(inherent.simulated.p99 / inherent.simulated.p50)}); from the configuration alone (10 x (hop delay ${hopDelayMs} ms + half a ${DEVNET_MIXING.intervalMs} ms round)): ${r0(inherent.configuredMs)} ms; the ingress's homeserver call: mean ${r2(sinkMs)} ms`
    },
    ...stageResults,
    {
      name: 'devnet/loops-returned',
      unit: 'loops/s',
      value: r2(loopsBack / secs),
      note: `relay loops returned per second (relay metrics): ${loopsBack} returned, ${loopsSent} sent in the window (some in flight at its edges)`
    },
    {
      name: 'devnet/packets-forwarded',
      unit: 'packets/s',
      value: r2(forwarded / secs),
      note: `summed over the 5 relays' links to relays (relay metrics), ${padding} of ${forwarded} link padding; ${drops} dropped${dropText}`
    }
  ]
}

/** The per-stage table the bench prints for a run. */
function breakdownTable(t: ReturnType<typeof tailBreakdown>, inherent: Dist, inherentMean: number): string {
  const r = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '-')
  const rows = [
    ['stage', 'mean', 'p50', 'p90', 'p99', 'max', 'mean >= p90', 'mean >= p99'],
    ['total', r(t.latency.mean), r(t.latency.p50), r(t.latency.p90), r(t.latency.p99), r(t.latency.max), '', ''],
    ...STAGE_NAMES.map(([k, short]) => {
      const d = t.stages[k]
      return [short, r(d.mean), r(d.p50), r(d.p90), r(d.p99), r(d.max), r(t.tail90.mean[k]), r(t.tail99.mean[k])]
    }),
    ['inherent', r(inherentMean), r(inherent.p50), r(inherent.p90), r(inherent.p99), r(inherent.max), '', '']
  ]
  return rows
    .map(row => `    ${row.map((c, i) => (i === 0 ? c.padEnd(9) : c.padStart(i >= 6 ? 12 : 7))).join('')}`)
    .join('\n')
}

async function sleep(ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
