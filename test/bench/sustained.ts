/**
 * Judging a relay bench step (pure functions, used by relay.bench.ts):
 * - sustained or not: zero loss, p99 under a bound, the load kept to its schedule, and no queue
 *   growing between the first and the last third of the step;
 * - "added" latency: each timed packet's latency minus its wait for the next round to start,
 *   with the round starts taken from the relay's output (each round's frames leave in one corked
 *   write, so the sink sees one burst per round) and the relay's own mean round duration;
 * - the rate search: a ladder, then bisection between the last rate that held and the first
 *   that did not.
 */

/** One sample of where the step's packets are, taken during the sending phase. */
export interface QueueSample {
  /** ms since the step started */
  readonly t: number
  /** packets the schedule had offered by t (rate × t) */
  readonly due: number
  /** packets the load process had handed to its ws by t */
  readonly sent: number
  /** the load ws's bufferedAmount, in packets */
  readonly buffered: number
  /** packets the sink had received by t */
  readonly arrived: number
  /** the relay's own counters since the step started (from its /metrics); absent when the scrape failed or the target has none */
  readonly relay?: { readonly received: number; readonly sent: number; readonly dropped: number }
}

/** Where the offered-but-not-delivered packets of a sample are (they sum to due − arrived). */
export function backlogParts(s: QueueSample): Record<string, number> | undefined {
  if (s.relay === undefined) return undefined
  return {
    'load behind schedule': s.due - s.sent,
    'load ws buffer': s.buffered,
    'kernel and relay socket': s.sent - s.buffered - s.relay.received,
    'inside the relay (unwrap queue, workers, staged, pool)': s.relay.received - s.relay.sent - s.relay.dropped,
    'dropped by the relay': s.relay.dropped,
    'relay to sink (send buffer, kernel)': s.relay.sent - s.arrived
  }
}

export interface Bounds {
  /** the relay's mixing interval, ms */
  readonly intervalMs: number
  /** p99 latency must be under intervalMs + this */
  readonly p99BoundMs: number
  /** the backlog may grow by at most rate × growthMs / 1000 packets between the first and the last third */
  readonly growthMs: number
  /** ... and at least this many packets are allowed (low rates) */
  readonly growthMinPackets: number
  /** the load's last send may be at most this late (ms) */
  readonly lateMs: number
}

export interface StepFacts {
  readonly rate: number
  readonly ms: number
  readonly total: number
  readonly sent: number
  readonly arrived: number
  readonly drops: number
  /** times the load found its ws buffer over its limit and waited */
  readonly blocked: number
  /** how late the load's last send was against the schedule, ms */
  readonly lateMs: number
  readonly p99: number
  readonly drainMs: number
  readonly samples: readonly QueueSample[]
}

export interface Growth {
  /** median backlog (due − arrived) in the first and the last third, packets */
  readonly first: number
  readonly last: number
  /** last − first, packets, and as ms of traffic at the step's rate */
  readonly packets: number
  readonly ms: number
  readonly limitPackets: number
  readonly limitMs: number
  readonly growing: boolean
  /** per part of the path: median in the first and the last third (only from samples with the relay's counters) */
  readonly parts: Record<string, [number, number]>
  readonly samplesPerThird: [number, number]
}

export interface Verdict {
  readonly sustained: boolean
  readonly reasons: string[]
  readonly growth: Growth | undefined
}

function med(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Backlog growth between the first and the last third of the sending phase (medians, so one GC pause does not count as growth). */
export function growthOf(rate: number, ms: number, samples: readonly QueueSample[], b: Bounds): Growth | undefined {
  const first = samples.filter(s => s.t < ms / 3)
  const last = samples.filter(s => s.t >= (2 * ms) / 3 && s.t <= ms)
  if (first.length === 0 || last.length === 0) return undefined
  const backlog = (s: QueueSample): number => s.due - s.arrived
  const f = med(first.map(backlog))
  const l = med(last.map(backlog))
  const limitPackets = Math.max(b.growthMinPackets, (rate * b.growthMs) / 1000)
  const parts: Record<string, [number, number]> = {}
  const pf = first.map(backlogParts).filter(x => x !== undefined)
  const pl = last.map(backlogParts).filter(x => x !== undefined)
  if (pf.length > 0 && pl.length > 0)
    for (const k of Object.keys(pf[0]!)) parts[k] = [med(pf.map(p => p[k]!)), med(pl.map(p => p[k]!))]
  return {
    first: f,
    last: l,
    packets: l - f,
    ms: ((l - f) / rate) * 1000,
    limitPackets,
    limitMs: (limitPackets / rate) * 1000,
    growing: l - f > limitPackets,
    parts,
    samplesPerThird: [first.length, last.length]
  }
}

export function judge(x: StepFacts, b: Bounds, minSamplesPerThird = 2): Verdict {
  const reasons: string[] = []
  if (x.sent < x.total) reasons.push(`load sent ${x.sent} of ${x.total}`)
  if (x.blocked > 0) reasons.push(`load waited ${x.blocked} times for its ws buffer to drain below 8 MiB`)
  if (x.lateMs > b.lateMs) reasons.push(`load's last send ${Math.round(x.lateMs)} ms behind schedule`)
  if (x.arrived < x.sent)
    reasons.push(`${x.sent - x.arrived} of ${x.sent} sent did not arrive within ${x.drainMs / 1000} s`)
  if (x.drops > 0) reasons.push(`relay dropped ${x.drops}`)
  if (!(x.p99 < b.intervalMs + b.p99BoundMs))
    reasons.push(
      `p99 latency ${Number.isFinite(x.p99) ? x.p99.toFixed(1) : 'unmeasured'} ms, bound ${b.intervalMs + b.p99BoundMs} ms`
    )
  const g = growthOf(x.rate, x.ms, x.samples, b)
  if (g === undefined || g.samplesPerThird[0] < minSamplesPerThird || g.samplesPerThird[1] < minSamplesPerThird) {
    reasons.push(
      `too few queue samples to judge growth (${g?.samplesPerThird.join(' and ') ?? 0} in the first and last third)`
    )
  } else if (g.growing) {
    reasons.push(`queue grew: ${describeGrowth(g)}`)
  }
  return { sustained: reasons.length === 0, reasons, growth: g }
}

export function describeGrowth(g: Growth): string {
  const parts = Object.entries(g.parts)
    .map(([k, [f, l]]) => [k, l - f] as const)
    .filter(([, d]) => Math.abs(d) >= 1)
    .sort((a, b) => b[1] - a[1])
  const where =
    parts.length === 0
      ? ''
      : `; by part: ${parts.map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${Math.round(d)}`).join(', ')}`
  return `offered but undelivered ${Math.round(g.first)} -> ${Math.round(g.last)} packets from the first to the last third (median), +${g.ms.toFixed(1)} ms of traffic, limit ${g.limitMs.toFixed(1)} ms${where}`
}

/**
 * Round starts from the bursts the sink saw (the arrival time of each round's first frame) less
 * the relay's mean round duration (start to last frame handed to the sockets). Rounds that
 * carried nothing leave no burst: a gap over 1.5 intervals gets starts at even spacing.
 */
export function roundStarts(bursts: readonly number[], meanRoundMs: number, intervalMs: number): number[] {
  const out: number[] = []
  for (const b of bursts) {
    const r = b - meanRoundMs
    const prev = out[out.length - 1]
    if (prev !== undefined && r - prev > 1.5 * intervalMs) {
      const gap = r - prev
      const n = Math.round(gap / intervalMs) - 1
      for (let k = 1; k <= n; k++) out.push(prev + (gap * k) / (n + 1))
    }
    out.push(r)
  }
  return out
}

/**
 * Per timed packet: its wait for the next round (from its send to the first round start at or
 * after it; what a relay that took no time to receive and unwrap would add) and its added latency
 * (latency minus that wait). With no rounds (a target that forwards at once) the wait is 0.
 */
export function addedLatencies(
  timed: ReadonlyArray<{ sent: number; arrived: number }>,
  starts: readonly number[] | null
): { added: number[]; waits: number[] } {
  const added: number[] = []
  const waits: number[] = []
  for (const { sent, arrived } of timed) {
    if (starts === null) {
      added.push(arrived - sent)
      waits.push(0)
      continue
    }
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const m = (lo + hi) >> 1
      if (starts[m]! < sent) lo = m + 1
      else hi = m
    }
    if (lo === starts.length) continue
    const w = starts[lo]! - sent
    waits.push(w)
    added.push(arrived - sent - w)
  }
  return { added, waits }
}

/**
 * The sustained-rate search: up the ladder until a rate fails (or steps run out), then bisect
 * between the highest rate that held and the lowest that failed until they are `resolution`
 * apart. Returns the highest rate that held (0 if none) and whether a failing rate bounds it.
 */
export async function searchRate(
  ladder: readonly number[],
  resolution: number,
  maxSteps: number,
  holds: (rate: number) => Promise<boolean>
): Promise<{ rate: number; bounded: boolean; tried: number }> {
  let pass = 0
  let fail = Infinity
  let tried = 0
  for (const r of [...ladder].sort((a, b) => a - b)) {
    if (tried >= maxSteps) break
    tried++
    if (await holds(r)) pass = r
    else {
      fail = r
      break
    }
  }
  while (Number.isFinite(fail) && fail - pass > resolution && tried < maxSteps) {
    const mid = Math.round((pass + fail) / 2 / 100) * 100
    if (mid <= pass || mid >= fail) break
    tried++
    if (await holds(mid)) pass = mid
    else fail = mid
  }
  return { rate: pass, bounded: Number.isFinite(fail), tried }
}
