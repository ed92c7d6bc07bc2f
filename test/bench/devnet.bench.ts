/**
 * End to end: `sealmix devnet` as separate processes, measured for
 * SEALMIX_BENCH_DEVNET_SECONDS (default 60) from the moment the demo clients start (the
 * network's start-up is not in the rates). Counts come from the nodes' Prometheus metrics (the
 * devnet prints each node's /metrics address; scraped when the clients start and at the end):
 * loops sent and returned, packets forwarded, drops, messages the ingress delivered. The demo
 * clients' acks and ack latency exist only in the clients' own events, which the devnet tallies
 * into its status line; they are read from that line, and a line without them is an error, not
 * a NaN.
 */

import { scrape } from '../../tools/devnet/status.ts'
import { runDevnet } from '../../tools/index.ts'
import type { BenchResult } from './harness.ts'

const SECONDS = Number(process.env.SEALMIX_BENCH_DEVNET_SECONDS ?? 60)
const START_SECONDS = Number(process.env.SEALMIX_BENCH_DEVNET_START_SECONDS ?? 180)
const RELAYS = ['gateway-a', 'gateway-b', 'mix-1', 'mix-2', 'mix-3']

type Metrics = Map<string, number>
const sum = (ms: Metrics[], f: (k: string) => boolean): number =>
  ms.reduce((s, m) => s + [...m].filter(([k]) => f(k)).reduce((a, [, v]) => a + v, 0), 0)

export async function benchDevnet(): Promise<BenchResult[]> {
  const ports = new Map<string, number>()
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
    stop: stopped
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
  await sleep(SECONDS * 1000)
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
  const delivered =
    sum([last.ingress], k => k === 'sealmix_ingress_messages_total{result="delivered"}') -
    sum([first.ingress], k => k === 'sealmix_ingress_messages_total{result="delivered"}')
  // The clients' tally (DemoTally.summary in tools/devnet/status.ts): "acked N ... | ack latency p50 X ms p99 Y ms".
  const acked = /\backed (\d+)/.exec(line)
  const lat = /ack latency p50 (\d+) ms p99 (\d+) ms/.exec(line)
  if (acked === null || lat === null)
    throw new Error(`bench: the devnet's status line has no ack count or latency: ${line}`)
  console.log(`  devnet: started in ${startup.toFixed(0)} s, measured ${secs.toFixed(0)} s: ${line}`)
  const r2 = (x: number): number => Math.round(x * 100) / 100
  return [
    {
      name: 'devnet/messages-acked',
      unit: 'messages/s',
      value: r2(Number(acked[1]) / secs),
      note: `${acked[1]} demo messages acknowledged in ${secs.toFixed(0)} s after the clients started (alice and bob, one message every 2-3 s each plus replies, beside the room demo's three members); the ingress delivered ${delivered} to the homeserver`
    },
    {
      name: 'devnet/ack-latency-p50',
      unit: 'ms',
      value: Number(lat[1]),
      note: "send to delivery ack, through 5 relays and back via a SURB and the mailbox pull (the clients' events)"
    },
    { name: 'devnet/ack-latency-p99', unit: 'ms', value: Number(lat[2]), note: `over the ${acked[1]} acks of the run` },
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
      note: `summed over the 5 relays' links to relays (relay metrics), ${padding} of ${forwarded} link padding; ${drops} dropped`
    }
  ]
}

async function sleep(ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
