/**
 * The audit against the devnet: `sealmix devnet` runs with recording taps around one mix
 * (mix-2), carrying the demo clients' messages and every kind of cover. The observer records
 * what enters and leaves that mix; afterwards, for ground truth only, each input is unwrapped
 * with the mix's keys (the audit made the devnet, so it reads each epoch's key file while it
 * exists) to learn which output it became. Link padding that mix-1 sent to mix-2 ends there and is not a candidate (the adversary
 * is told, as in the relay audit).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CryptoSuite, FRAME, NETWORK_GEOMETRY as G, Sphinx } from '../../mix/index.ts'
import { runDevnet } from '../devnet/devnet.ts'
import { RELAY_LAYOUT } from '../network/layout.ts'
import type { InEvent, OutEvent } from './analysis.ts'

/** The observed mix: the middle layer's, whose inputs and outputs are both mix links. */
const OBSERVED = RELAY_LAYOUT.find(r => r.layer === 2)!.name

export interface DevnetObservation {
  readonly ins: InEvent[]
  readonly outs: OutEvent[]
  readonly framesIn: number
  readonly seconds: number
}

export async function observeDevnet(c: CryptoSuite, seconds: number): Promise<DevnetObservation> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-audit-devnet-'))
  const inputs: Array<{ t: number; packet: Buffer }> = []
  const outputs: Array<{ t: number; size: number; alpha: string | null }> = []
  let stop!: () => void
  const stopped = new Promise<void>(resolve => {
    stop = resolve
  })
  let startAt = Infinity
  const run = runDevnet({
    dataDir: dir,
    stop: stopped,
    print: line => {
      if (startAt === Infinity && line.includes(', acked ') && !/acked 0,/.test(line)) startAt = performance.now()
    },
    observe: {
      relay: OBSERVED,
      onInput: (t, m) => {
        if (m[0] === FRAME.PACKET) inputs.push({ t, packet: Buffer.from(m.subarray(1, 1 + G.packetBytes)) })
      },
      onOutput: (t, m) => {
        outputs.push({ t, size: m.length, alpha: m[0] === FRAME.PACKET ? m.subarray(3, 35).toString('hex') : null })
      }
    }
  })
  // Mix keys rotate per epoch and are erased after their grace window: collect them as they appear.
  const keys = new Map<string, Buffer>()
  const keyDir = join(dir, OBSERVED, 'keys')
  const collect = setInterval(() => {
    if (!existsSync(keyDir)) return
    for (const f of readdirSync(keyDir))
      if (/^mix-\d+\.key$/.test(f) && !keys.has(f)) {
        try {
          keys.set(f, readFileSync(join(keyDir, f)))
        } catch {
          /* erased meanwhile */
        }
      }
  }, 250)
  try {
    // Observe once the demo traffic flows (the first acked message), for `seconds`.
    const deadline = Date.now() + 90_000
    while (startAt === Infinity && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 200))
    if (startAt === Infinity) throw new Error('audit: the devnet delivered no demo message within 90 s')
    await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  } finally {
    stop()
    await run
    clearInterval(collect)
  }
  const end = startAt + seconds * 1000
  const sks = [...keys.values()]
  rmSync(dir, { recursive: true, force: true })
  const sphinx = new Sphinx(c, G)
  const ins: InEvent[] = []
  const index = new Map<string, number>()
  for (const x of inputs) {
    if (x.t < startAt || x.t > end) continue
    const r = sphinx.unwrap(x.packet, { keys: sks })
    if (r.type !== 'forward') continue // link padding ending here, or a replay
    index.set(r.packet.subarray(2, 34).toString('hex'), ins.length)
    ins.push({ t: x.t, link: 0 })
  }
  const outs: OutEvent[] = outputs
    .filter(x => x.t >= startAt && x.t <= end + 2000)
    .map(x => ({ t: x.t, link: 0, size: x.size, source: x.alpha === null ? null : (index.get(x.alpha) ?? null) }))
  return { ins, outs, framesIn: inputs.filter(x => x.t >= startAt && x.t <= end).length, seconds }
}
