/**
 * A small benchmark harness: interleaves an operation with its baseline over several rounds (so
 * that machine noise hits both alike), reports the median time per operation of each, and the
 * ratio of the medians. Results are data; run.ts prints and writes them.
 */
export interface BenchResult {
  name: string
  unit: 'us/op' | 'packets/s' | 'messages/s' | 'loops/s' | 'ms' | 'MiB' | 'ratio'
  /** After aggregate(): the median over the runs (the same as `median`). */
  value: number
  floor?: number
  ratio?: number
  /** Free-form note: what the floor contains, the binding, the geometry. */
  note?: string
  /** Set by aggregate(): median, min and max of `value` over the runs that gave a finite value. */
  median?: number
  min?: number
  max?: number
  /** Set by aggregate(): `value` of every run, in run order (NaN where a run gave none). */
  runs?: number[]
}

export interface Pair {
  name: string
  op: () => void
  floor?: () => void
  note?: string
}

function timeLoop(f: () => void, n: number): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f()
  return Number(process.hrtime.bigint() - t0) / n / 1000
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Calibrate n so that one batch takes about targetMs. */
function calibrate(f: () => void, targetMs: number): number {
  let n = 8
  for (;;) {
    const us = timeLoop(f, n) * n
    if (us >= (targetMs * 1000) / 4 || n > 1 << 20)
      return Math.max(8, Math.round((n * (targetMs * 1000)) / Math.max(us, 1)))
    n *= 4
  }
}

export function runPair(p: Pair, opts: { rounds?: number; batchMs?: number } = {}): BenchResult {
  const rounds = opts.rounds ?? 9
  const batchMs = opts.batchMs ?? 150
  // warm up both (JIT, caches)
  timeLoop(p.op, 200)
  if (p.floor !== undefined) timeLoop(p.floor, 200)
  const nOp = calibrate(p.op, batchMs)
  const nFloor = p.floor !== undefined ? calibrate(p.floor, batchMs) : 0
  const ops: number[] = []
  const floors: number[] = []
  for (let r = 0; r < rounds; r++) {
    ops.push(timeLoop(p.op, nOp))
    if (p.floor !== undefined) floors.push(timeLoop(p.floor, nFloor))
  }
  const value = median(ops)
  const out: BenchResult = { name: p.name, unit: 'us/op', value: round(value) }
  if (p.floor !== undefined) {
    const floor = median(floors)
    out.floor = round(floor)
    out.ratio = Math.round((value / floor) * 1000) / 1000
  }
  if (p.note !== undefined) out.note = p.note
  return out
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/**
 * One result per name from N runs of a suite: value (and floor and ratio) is the median over the
 * runs with a finite value, never the best run; min, max and every run's value come along. The
 * note is the median run's (the lower middle for an even N), with the runs appended.
 */
export function aggregate(runs: BenchResult[][]): BenchResult[] {
  const names: string[] = []
  for (const r of runs) for (const x of r) if (!names.includes(x.name)) names.push(x.name)
  return names.map(name => {
    const each = runs.map(r => r.find(x => x.name === name))
    const values = each.map(x => x?.value ?? NaN)
    const finite = values.filter(Number.isFinite)
    const med = median(finite)
    const some = each.find(x => x !== undefined)!
    const sorted = each
      .filter((x): x is BenchResult => x !== undefined && Number.isFinite(x.value))
      .sort((a, b) => a.value - b.value)
    const mid = sorted[Math.max(0, Math.ceil(sorted.length / 2) - 1)] ?? some
    const of = (k: 'floor' | 'ratio'): number | undefined => {
      const xs = each.map(x => x?.[k]).filter((v): v is number => v !== undefined && Number.isFinite(v))
      return xs.length === 0 ? undefined : round(median(xs), k === 'ratio' ? 3 : 2)
    }
    const out: BenchResult = {
      name,
      unit: some.unit,
      value: round(med),
      median: round(med),
      min: round(Math.min(...finite)),
      max: round(Math.max(...finite)),
      runs: values.map(v => round(v))
    }
    if (finite.length === 0) {
      out.min = NaN
      out.max = NaN
    }
    const floor = of('floor')
    const ratio = of('ratio')
    if (floor !== undefined) out.floor = floor
    if (ratio !== undefined) out.ratio = ratio
    const invalid = values.length - finite.length
    const tail =
      runs.length > 1
        ? `median of ${finite.length} runs (${values.map(v => (Number.isFinite(v) ? String(round(v)) : 'none')).join(', ')})${invalid > 0 ? `; ${invalid} run(s) gave no value` : ''}`
        : ''
    const note = [mid.note, tail].filter(x => x !== undefined && x !== '').join('; ')
    if (note !== '') out.note = note
    return out
  })
}

export function formatTable(results: BenchResult[]): string {
  const spread = (r: BenchResult): string =>
    r.min === undefined || r.runs === undefined || r.runs.length < 2 ? '-' : `${r.min.toFixed(2)}-${r.max!.toFixed(2)}`
  const rows = [
    ['benchmark', 'median', 'min-max', 'runs', 'unit', 'floor', 'ratio'],
    ...results.map(r => [
      r.name,
      r.value.toFixed(2),
      spread(r),
      String(r.runs?.length ?? 1),
      r.unit,
      r.floor?.toFixed(2) ?? '-',
      r.ratio?.toFixed(3) ?? '-'
    ])
  ]
  const w = rows[0]!.map((_, i) => Math.max(...rows.map(row => row[i]!.length)))
  return rows
    .map(
      (row, j) =>
        row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
        (j === 0 ? '\n' + w.map(x => '-'.repeat(x)).join('  ') : '')
    )
    .join('\n')
}
