/**
 * End to end (issue 7): `sealmix devnet` for a fixed time, as separate processes; the demo
 * clients' messages delivered and acknowledged per second and the ack latency (send to the
 * ingress's ack back in the sender's mailbox), read from the devnet's own status line.
 */
import { runDevnet } from '../../daemon/index.ts'
import type { BenchResult } from './harness.ts'

const SECONDS = Number(process.env.SEALMIX_BENCH_DEVNET_SECONDS ?? 60)

export async function benchDevnet (): Promise<BenchResult[]> {
  let last = ''
  let stop!: () => void
  const stopped = new Promise<void>(resolve => { stop = resolve })
  const run = runDevnet({ print: line => { if (line.startsWith('devnet: 5/5')) { last = line} }, stop: stopped })
  setTimeout(stop, SECONDS * 1000)
  await run
  const num = (re: RegExp): number => Number(re.exec(last)?.[1] ?? NaN)
  const acked = num(/acked (\d+)/)
  const p50 = num(/p50 (\d+) ms/)
  const p99 = num(/p99 (\d+) ms/)
  const loops = /loops (\d+)\/(\d+) returned/.exec(last)
  console.log(`  devnet ${SECONDS} s: ${last}`)
  return [
    { name: 'devnet/messages-acked', unit: 'packets/s', value: Number((acked / SECONDS).toFixed(2)), note: `${acked} demo messages acknowledged in ${SECONDS} s (2 clients, one message every 2-3 s each plus replies)` },
    { name: 'devnet/ack-latency-p50', unit: 'ms', value: p50, note: 'send to delivery ack, through 5 relays and back via a SURB and the mailbox pull' },
    { name: 'devnet/ack-latency-p99', unit: 'ms', value: p99 },
    { name: 'devnet/loops-returned', unit: 'packets/s', value: loops === null ? NaN : Number((Number(loops[1]) / SECONDS).toFixed(2)), note: loops === null ? '' : `${loops[1]} of ${loops[2]} relay loops returned` }
  ]
}
