/**
 * npm run bench [-- NAME ...] [--json FILE]
 * Runs the named benchmarks (default: all), each SEALMIX_BENCH_RUNS times in a row (default 3),
 * prints a table and with --json writes an array of { name, unit, value, median, min, max, runs,
 * floor?, ratio?, note? }. Every figure is the median over the runs (value = median), with the
 * spread (min, max) and each run's value: never the best run.
 */
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { benchBrowser, closeBrowserBench } from './browser.bench.ts'
import { benchDevnet } from './devnet.bench.ts'
import { benchDirectory } from './directory.bench.ts'
import { aggregate, type BenchResult, formatTable } from './harness.ts'
import { benchPadding } from './padding.bench.ts'
import { benchRelay, closeRelayBench } from './relay.bench.ts'
import { benchRooms } from './rooms.bench.ts'
import { benchSphinx } from './sphinx.bench.ts'
import { benchStore } from './store.bench.ts'

interface Suite {
  run: (run: number, of: number) => Promise<BenchResult[]>
  close?: () => Promise<void>
}
const SUITES: Record<string, Suite> = {
  sphinx: { run: benchSphinx },
  relay: { run: benchRelay, close: closeRelayBench },
  store: { run: benchStore },
  devnet: { run: benchDevnet },
  directory: { run: benchDirectory },
  rooms: { run: benchRooms },
  browser: { run: benchBrowser, close: closeBrowserBench },
  padding: { run: benchPadding }
}
const RUNS = Number(process.env.SEALMIX_BENCH_RUNS ?? 3)
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error('bench: SEALMIX_BENCH_RUNS must be a whole number >= 1')
  process.exit(2)
}

const args = process.argv.slice(2)
let json: string | undefined
const names: string[] = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === '--json') {
    json = args[++i]
    if (json === undefined) {
      console.error('bench: --json needs a file name')
      process.exit(2)
    }
  } else if (a in SUITES) names.push(a)
  else {
    console.error(`bench: unknown benchmark '${a}' (known: ${Object.keys(SUITES).join(', ')})`)
    process.exit(2)
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU'
console.log(
  `sealmix benchmarks: Node ${process.version}, ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${RUNS} run(s) of each`
)
const results: BenchResult[] = []
for (const n of names.length > 0 ? names : Object.keys(SUITES)) {
  const suite = SUITES[n]!
  const runs: BenchResult[][] = []
  try {
    for (let r = 0; r < RUNS; r++) {
      const t0 = Date.now()
      console.log(`${n}: run ${r + 1} of ${RUNS}`)
      const got = await suite.run(r, RUNS)
      runs.push(got)
      console.log(
        `${n}: run ${r + 1} took ${Math.round((Date.now() - t0) / 1000)} s: ${got.map(x => `${x.name} ${x.value}`).join(', ')}`
      )
    }
  } finally {
    await suite.close?.()
  }
  results.push(...aggregate(runs))
}
console.log(formatTable(results))
if (json !== undefined) {
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n')
  console.log(`wrote ${json}`)
}
