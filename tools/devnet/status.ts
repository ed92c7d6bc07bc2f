/**
 * The devnet's one-line status: relay and ingress metrics scraped from their /metrics, and the
 * demo clients' JSON events (sent, delivered with latency; the room demo's messages) read from
 * their stdout.
 */
import { request } from 'node:http'
import { type LatencyStages, STAGES } from '../../client/index.ts'
import { ROOM_DEMO_EVENTS, type RoomDemoEvent } from '../chat/room-demo-text.ts'
import { RELAY_LINKS } from '../network/layout.ts'

export function scrape(port: number): Promise<Map<string, number>> {
  return new Promise(resolve => {
    request({ host: '127.0.0.1', port, path: '/metrics', timeout: 800 }, res => {
      let b = ''
      res.on('data', (d: Buffer) => {
        b += d.toString()
      })
      res.on('end', () => {
        const m = new Map<string, number>()
        for (const l of b.split('\n'))
          if (l !== '' && !l.startsWith('#')) {
            const i = l.lastIndexOf(' ')
            m.set(l.slice(0, i), Number(l.slice(i + 1)))
          }
        resolve(m)
      })
    })
      .on('error', () => resolve(new Map()))
      .on('timeout', function (this: { destroy: () => void }) {
        this.destroy()
      })
      .end()
  })
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

/** One acknowledged demo message: its latency, where it went (client/latency.ts) and when the tally got it. */
export interface AckRecord {
  readonly atMs: number
  readonly latencyMs: number
  readonly stages?: LatencyStages
  /** Epochs begun between its send and its ack. */
  readonly epochs?: number
}

/** Acks a tally keeps (a devnet can run for days): the newest this many. */
const KEPT_ACKS = 100_000

export class DemoTally {
  sent = 0
  acked = 0
  failed = 0
  received = 0
  /** Newest last; bounded by KEPT_ACKS. */
  readonly acks: AckRecord[] = []

  constructor(private readonly now: () => number = Date.now) {}

  /** One stdout line of `sealmix listen --json`. */
  onLine(line: string): { event: string; [k: string]: unknown } | null {
    let e: { event?: unknown; latencyMs?: unknown; stages?: unknown; epochs?: unknown }
    try {
      e = JSON.parse(line) as typeof e
    } catch {
      return null
    }
    if (e.event === 'sent') this.sent++
    else if (e.event === 'delivered') {
      this.acked++
      if (typeof e.latencyMs === 'number') {
        this.acks.push({
          atMs: this.now(),
          latencyMs: e.latencyMs,
          stages: isStages(e.stages) ? e.stages : undefined,
          epochs: typeof e.epochs === 'number' ? e.epochs : undefined
        })
        if (this.acks.length > KEPT_ACKS) this.acks.shift()
      }
    } else if (e.event === 'failed') this.failed++
    else if (e.event === 'received') this.received++
    return typeof e.event === 'string' ? (e as { event: string }) : null
  }

  get latencies(): number[] {
    return this.acks.map(a => a.latencyMs)
  }

  summary(): string {
    const s = this.latencies.sort((a, b) => a - b)
    const ms = (v: number): string => (Number.isNaN(v) ? '-' : `${Math.round(v)} ms`)
    return `sent ${this.sent}, acked ${this.acked}${this.failed > 0 ? `, failed ${this.failed}` : ''}, received ${this.received} | ack latency p50 ${ms(percentile(s, 0.5))} p90 ${ms(percentile(s, 0.9))} p99 ${ms(percentile(s, 0.99))}`
  }
}

function isStages(x: unknown): x is LatencyStages {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  return STAGES.every(k => typeof r[k] === 'number' && Number.isFinite(r[k]))
}

/** The room demo's JSON events (`sealmix room-demo --json`): its messages sent, delivered, opened and verified. */
export class RoomTally {
  sent = 0
  delivered = 0
  verified = 0
  rejected = 0
  refused = 0

  /** One stdout line of `sealmix room-demo --json`: the event, when it is one of the demo's. */
  onLine(line: string): RoomDemoEvent | null {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(line) as Record<string, unknown>
    } catch {
      return null
    }
    if (!EVENTS.has(e.event) || typeof e.member !== 'string') return null
    if (e.event === 'room_sent') this.sent++
    else if (e.event === 'room_delivered') this.delivered++
    else if (e.event === 'room_received') this.verified++
    else if (e.event === 'room_rejected') this.rejected++
    else if (e.event === 'room_refused') this.refused++
    return e as RoomDemoEvent
  }

  summary(): string {
    const more = `${this.rejected > 0 ? `, rejected ${this.rejected}` : ''}${this.refused > 0 ? `, refused ${this.refused}` : ''}`
    return `room sent ${this.sent}, delivered ${this.delivered}, opened and verified ${this.verified}${more}`
  }
}

const EVENTS = new Set<unknown>(ROOM_DEMO_EVENTS)

export function relaySummary(ms: Array<Map<string, number>>): string {
  const up = ms.filter(m => m.size > 0).length
  const sum = (k: string): number => ms.reduce((s, m) => s + (m.get(k) ?? 0), 0)
  const drops = ms.reduce(
    (s, m) => s + [...m].filter(([k]) => k.startsWith('sealmix_packets_dropped_total')).reduce((a, [, v]) => a + v, 0),
    0
  )
  // The layout's relay links (2 gateways -> mix-1 -> mix-2 -> mix-3 -> 2 gateways), each counted at both ends.
  const links = sum('sealmix_connections{link="peer"}') / 2
  const epoch = Math.max(-1, ...ms.map(m => m.get('sealmix_epoch') ?? -1))
  return `epoch ${epoch < 0 ? '-' : epoch} | ${up}/${ms.length} relays up, ${links}/${RELAY_LINKS} links | loops ${sum('sealmix_loops_returned_total')}/${sum('sealmix_loops_sent_total')} returned | ${sum('sealmix_packets_sent_total{link="peer"}')} packets forwarded (${sum('sealmix_cover_sent_total{kind="link"}')} padding) | ${drops} dropped`
}

/** Split a status line at its ` | ` separators into lines of at most `width - 1` characters (a full-width line would wrap). */
export function wrapStatus(line: string, width: number): string[] {
  const max = width - 1
  const lines: string[] = []
  for (const part of line.split(' | ')) {
    const last = lines.length - 1
    if (last >= 0 && lines[last]!.length + 3 + part.length <= max) lines[last] += ` | ${part}`
    else lines.push(part.length <= max ? part : part.slice(0, max - 1) + '…')
  }
  return lines
}

/**
 * Lines and a status line for a stream. On a terminal the status is redrawn in place, wrapped at
 * its ` | ` separators to the terminal's width (a line that wraps by itself cannot be redrawn),
 * and other lines scroll above it; to a pipe or file every status is a line of its own.
 */
export function statusOutput(out: NodeJS.WriteStream): {
  print: (line: string) => void
  status: (line: string) => void
  clear: () => void
} {
  if (out.isTTY !== true)
    return {
      print: line => {
        out.write(line + '\n')
      },
      status: line => {
        out.write(line + '\n')
      },
      clear: () => {}
    }
  let shown: string[] = []
  // Back to the start of the status's first line, clearing each of its lines on the way.
  const erase = (): string => (shown.length === 0 ? '' : '\r\x1b[2K' + '\x1b[1A\x1b[2K'.repeat(shown.length - 1))
  return {
    print: line => {
      out.write(`${erase()}${line}\n${shown.join('\n')}`)
    },
    status: line => {
      const e = erase()
      shown = wrapStatus(line, out.columns >= 20 ? out.columns : 100)
      out.write(e + shown.join('\n'))
    },
    /** Stop showing the status (before the last lines). */
    clear: () => {
      out.write(erase())
      shown = []
    }
  }
}
