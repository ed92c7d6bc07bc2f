/**
 * npm run bench [-- NAME ...] [--json FILE]
 * Runs the named benchmarks (default: all), prints a table, and with --json writes an array of
 * { name, unit, value, floor?, ratio?, note? }.
 */
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { formatTable, type BenchResult } from './harness.ts'
import { benchSphinx } from './sphinx.bench.ts'
import { benchRelay } from './relay.bench.ts'
import { benchStore } from './store.bench.ts'
import { benchDevnet } from './devnet.bench.ts'
import { benchDirectory } from './directory.bench.ts'

const SUITES: Record<string, () => Promise<BenchResult[]>> = {
  sphinx: benchSphinx,
  relay: benchRelay,
  store: benchStore,
  devnet: benchDevnet,
  directory: benchDirectory
}

const args = process.argv.slice(2)
let json: string | undefined
const names: string[] = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === '--json') {
    json = args[++i]
    if (json === undefined) { console.error('bench: --json needs a file name'); process.exit(2) }
  } else if (a in SUITES) names.push(a)
  else { console.error(`bench: unknown benchmark '${a}' (known: ${Object.keys(SUITES).join(', ')})`); process.exit(2) }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU'
console.log(`sealmix benchmarks: Node ${process.version}, ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB`)
const results: BenchResult[] = []
for (const n of names.length > 0 ? names : Object.keys(SUITES)) {
  results.push(...await SUITES[n]!())
}
console.log(formatTable(results))
if (json !== undefined) {
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n')
  console.log(`wrote ${json}`)
}
