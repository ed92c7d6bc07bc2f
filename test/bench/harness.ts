/**
 * A small benchmark harness: interleaves an operation with its baseline over several rounds (so
 * that machine noise hits both alike), reports the median time per operation of each, and the
 * ratio of the medians. Results are data; run.ts prints and writes them.
 */
export interface BenchResult {
  name: string
  unit: 'us/op' | 'packets/s' | 'ms' | 'MiB'
  value: number
  floor?: number
  ratio?: number
  /** Free-form note: what the floor contains, the binding, the geometry. */
  note?: string
}

export interface Pair {
  name: string
  op: () => void
  floor?: () => void
  note?: string
}

function timeLoop (f: () => void, n: number): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f()
  return Number(process.hrtime.bigint() - t0) / n / 1000
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Calibrate n so that one batch takes about targetMs. */
function calibrate (f: () => void, targetMs: number): number {
  let n = 8
  for (;;) {
    const us = timeLoop(f, n) * n
    if (us >= targetMs * 1000 / 4 || n > 1 << 20) return Math.max(8, Math.round(n * (targetMs * 1000) / Math.max(us, 1)))
    n *= 4
  }
}

export function runPair (p: Pair, opts: { rounds?: number, batchMs?: number } = {}): BenchResult {
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

function round (x: number): number {
  return Math.round(x * 100) / 100
}

export function formatTable (results: BenchResult[]): string {
  const rows = [['benchmark', 'value', 'unit', 'floor', 'ratio'], ...results.map(r => [r.name, r.value.toFixed(2), r.unit, r.floor?.toFixed(2) ?? '-', r.ratio?.toFixed(3) ?? '-'])]
  const w = rows[0]!.map((_, i) => Math.max(...rows.map(row => row[i]!.length)))
  return rows.map((row, j) => row.map((c, i) => i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!)).join('  ') + (j === 0 ? '\n' + w.map(x => '-'.repeat(x)).join('  ') : '')).join('\n')
}
