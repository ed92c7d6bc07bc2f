/**
 * The process series every program exports (prom-client's default metrics, prefixed sealmix_),
 * with a closed series set: the per-handle-type series are dropped (their label set follows
 * what the process is doing, and the *_total ones are gauges that promtool rejects), and every GC
 * kind is exported from the start. Plus sealmix_build_info: which build runs, for
 * `count by (version) (sealmix_build_info)` over a fleet.
 */
import { collectDefaultMetrics, Gauge, type Histogram, type Registry } from 'prom-client'
import { buildInfo } from './build-info.ts'

const OPEN_SERIES = [
  'active_handles',
  'active_handles_total',
  'active_requests',
  'active_requests_total',
  'active_resources',
  'active_resources_total'
]

export function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'sealmix_' })
  for (const n of OPEN_SERIES) registry.removeSingleMetric(`sealmix_nodejs_${n}`)
  const gc = registry.getSingleMetric('sealmix_nodejs_gc_duration_seconds') as Histogram<'kind'> | undefined
  for (const kind of ['minor', 'major', 'incremental', 'weakcb']) gc?.zero({ kind })
  // One series whose labels never change while the process runs: a closed set, like the others.
  const b = buildInfo()
  new Gauge({
    name: 'sealmix_build_info',
    help: 'Always 1: the sealmix version, commit and Node.js version this process runs',
    labelNames: ['version', 'commit', 'node'],
    registers: [registry]
  }).set({ version: b.version, commit: b.commit, node: b.node }, 1)
}
