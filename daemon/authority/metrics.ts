/** What a directory authority exports, on its own registry; labels from closed sets only. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { processMetrics } from '../io/index.ts'

/** Why a descriptor was refused: a closed set (a metric label). */
export const REFUSALS = [
  'too_large',
  'malformed',
  'bad_signature',
  'not_admitted',
  'wrong_role',
  'server_not_admitted',
  'unbound',
  'server_full',
  'no_key_for_epoch',
  'rate_limited'
] as const
export type Refusal = (typeof REFUSALS)[number]

export class AuthorityMetrics {
  readonly registry = new Registry()
  readonly refused = new Counter({
    name: 'sealmix_authority_descriptors_refused_total',
    help: 'Descriptors refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry]
  })
  readonly accepted = new Counter({
    name: 'sealmix_authority_descriptors_accepted_total',
    help: 'New descriptors taken (relays and ingresses)',
    registers: [this.registry]
  })
  readonly held = new Gauge({
    name: 'sealmix_authority_descriptors_held',
    help: 'Descriptors held (relays and ingresses)',
    registers: [this.registry]
  })
  readonly admitted = new Gauge({
    name: 'sealmix_authority_admitted_relays',
    help: 'Relays in the admission file',
    registers: [this.registry]
  })
  readonly build = new Histogram({
    name: 'sealmix_authority_build_seconds',
    help: 'Time to build one epoch document',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry]
  })
  readonly documentBytes = new Gauge({
    name: 'sealmix_authority_document_bytes',
    help: 'Size of the last document built',
    registers: [this.registry]
  })
  readonly epoch = new Gauge({
    name: 'sealmix_authority_epoch',
    help: "The current epoch by this authority's clock",
    registers: [this.registry]
  })
  constructor() {
    processMetrics(this.registry)
    for (const r of REFUSALS) this.refused.inc({ reason: r }, 0)
  }
}
