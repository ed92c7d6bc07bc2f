/**
 * The audit's timing check, timed on the wire instead of in the observer's event loop:
 * tcpdump on loopback (needs tcpdump and the right to capture) records the relay's output
 * segments while it carries 100% and then 0% real traffic at 20 packets/s (minBatch 8);
 * inter-departure times are compared with KS, beside the same comparison from the sink's own
 * timestamps. Run: node --import tsx test/bench/wire-timing.ts
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { DEFAULT_MIXING, loadCrypto } from '../../mix/index.ts'
import { gaps, ks } from '../../tools/audit/analysis.ts'
import { observe } from '../../tools/audit/relay-run.ts'

const c = await loadCrypto()
/** Frame departure times (s) from a pcap: TCP segments to the given ports, one time per 2565-byte masked frame. */
function framesFrom(file: string, ports: number[]): number[] {
  const b = readFileSync(file)
  let off = 24
  const out: number[] = []
  while (off + 16 <= b.length) {
    const sec = b.readUInt32LE(off)
    const usec = b.readUInt32LE(off + 4)
    const incl = b.readUInt32LE(off + 8)
    const pkt = b.subarray(off + 16, off + 16 + incl)
    off += 16 + incl
    // Linux cooked v1 (SLL) or ethernet on lo: find the IPv4 header.
    const ipAt = pkt[0] === 0x45 ? 0 : pkt.readUInt16BE(12) === 0x0800 ? 14 : 16
    const ip = pkt.subarray(ipAt)
    if (ip[0]! >> 4 !== 4 || ip[9] !== 6) continue
    const ihl = (ip[0]! & 15) * 4
    const tcp = ip.subarray(ihl)
    const dport = tcp.readUInt16BE(2)
    if (!ports.includes(dport)) continue
    const doff = (tcp[12]! >> 4) * 4
    const payload = ip.readUInt16BE(2) - ihl - doff
    const frames = Math.round(payload / 2565)
    for (let i = 0; i < frames; i++) out.push(sec + usec / 1e6)
  }
  return out
}
const res: number[][] = []
const sinkGaps: number[][] = []
for (const share of [1, 0]) {
  const file = `/tmp/cap-${share}.pcap`
  const td = spawn('tcpdump', ['-i', 'lo', '-w', file, '-s', '96', '-U', 'tcp'], { stdio: 'ignore' })
  await new Promise(r => setTimeout(r, 1000))
  const ob = await observe(c, { mixing: { ...DEFAULT_MIXING, minBatch: 8 }, rate: 20, seconds: 15, realShare: share })
  await new Promise(r => setTimeout(r, 500))
  td.kill('SIGINT')
  await new Promise(r => td.once('exit', r))
  const wire = framesFrom(file, ob.sinkPorts)
  const sink = ob.outs.map(x => x.t / 1000)
  res.push(gaps(wire))
  const q = (xs: number[], p: number): string =>
    ([...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]! * 1000).toFixed(3)
  console.log(
    `share ${share}: wire frames ${wire.length}, sink frames ${sink.length}; wire gap p50/p90 ${q(gaps(wire), 0.5)}/${q(gaps(wire), 0.9)} ms; sink gap p50/p90 ${q(gaps(sink), 0.5)}/${q(gaps(sink), 0.9)} ms`
  )
  sinkGaps.push(gaps(sink))
}
const k = ks(res[0]!, res[1]!)
console.log('wire KS D', k.d.toFixed(3), 'p', k.p.toExponential(2))
const ks2 = ks(sinkGaps[0]!, sinkGaps[1]!)
console.log('sink KS D', ks2.d.toFixed(3), 'p', ks2.p.toExponential(2))
