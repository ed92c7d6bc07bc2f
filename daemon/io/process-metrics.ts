/**
 * The process series every program exports (prom-client's default metrics, prefixed sealmix_),
 * with a closed series set: the per-handle-type series are dropped (their label set follows
 * what the process is doing, and the *_total ones are gauges that promtool rejects), and every GC
 * kind is exported from the start.
 */
import { collectDefaultMetrics, type Histogram, type Registry } from 'prom-client'

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
}
