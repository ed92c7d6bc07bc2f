/**
 * Ingress metrics on a private prom-client registry. Every label comes from a closed set below;
 * no destination, user or message id is ever a label.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { processMetrics } from '../io/index.ts'

export const FRAGMENT_RESULTS = ['accepted', 'duplicate', 'unopenable', 'malformed', 'full'] as const
export const MESSAGE_RESULTS = ['delivered', 'duplicate', 'refused', 'retry', 'rate_limited'] as const
export const REFUSAL_REASONS = [
  'malformed',
  'unknown_destination',
  'unknown_key',
  'bad_signature',
  'stale_hour',
  'replay',
  'bad_token',
  'sink'
] as const
export const API_ENDPOINTS = ['sender_cert', 'capability', 'room_key', 'room_key_current'] as const
export const API_RESULTS = [
  'ok',
  'unknown_token',
  'foreign_user',
  'device_mismatch',
  'bad_request',
  'homeserver_error',
  'stale'
] as const
/** What a room key registration did (room_key only): RoomKeyResult, and the homeserver's refusals. */
export const ROOM_KEY_RESULTS = [
  'registered',
  'rotated',
  'unchanged',
  'no_proof',
  'key_id_reused',
  'full',
  'user_full',
  'not_joined',
  'bot_not_invited',
  'foreign_room'
] as const

export class IngressMetrics {
  readonly registry = new Registry()
  readonly fragments = new Counter({
    name: 'sealmix_ingress_fragments_total',
    help: 'Fragments received from exit gateways, by result',
    labelNames: ['result'],
    registers: [this.registry]
  })
  readonly messages = new Counter({
    name: 'sealmix_ingress_messages_total',
    help: 'Complete messages, by result',
    labelNames: ['result'],
    registers: [this.registry]
  })
  readonly refused = new Counter({
    name: 'sealmix_ingress_refused_total',
    help: 'Messages refused, by reason (the sender is told only "refused")',
    labelNames: ['reason'],
    registers: [this.registry]
  })
  readonly answers = new Counter({
    name: 'sealmix_ingress_answers_total',
    help: 'Acks sent back through SURBs, by result',
    labelNames: ['result'],
    registers: [this.registry]
  })
  readonly api = new Counter({
    name: 'sealmix_ingress_api_requests_total',
    help: 'Client API requests (SenderCert issuance, capability registration), by result',
    labelNames: ['endpoint', 'result'],
    registers: [this.registry]
  })
  readonly links = new Gauge({
    name: 'sealmix_ingress_gateway_links',
    help: 'Exit gateway links, by state',
    labelNames: ['state'],
    registers: [this.registry]
  })
  readonly bindingExpiry = new Gauge({
    name: 'sealmix_ingress_binding_expiry_seconds',
    help: "Seconds until this ingress's binding by its homeserver expires (renew it before 0)",
    registers: [this.registry]
  })
  readonly partial = new Gauge({
    name: 'sealmix_ingress_partial_messages',
    help: 'Messages waiting for more fragments',
    registers: [this.registry]
  })
  readonly replayEntries = new Gauge({
    name: 'sealmix_ingress_replay_entries',
    help: 'Envelope hashes in the replay cache',
    registers: [this.registry]
  })
  readonly rooms = new Gauge({
    name: 'sealmix_ingress_rooms',
    help: 'Rooms with a registered send key (rooms.maxRooms at most)',
    registers: [this.registry]
  })
  readonly sinkSeconds = new Histogram({
    name: 'sealmix_ingress_sink_seconds',
    help: 'Time for the homeserver to take one message',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry]
  })

  constructor() {
    processMetrics(this.registry)
    for (const r of FRAGMENT_RESULTS) this.fragments.inc({ result: r }, 0)
    for (const r of MESSAGE_RESULTS) this.messages.inc({ result: r }, 0)
    for (const r of REFUSAL_REASONS) this.refused.inc({ reason: r }, 0)
    for (const r of ['sent', 'no_link']) this.answers.inc({ result: r }, 0)
    for (const e of API_ENDPOINTS) for (const r of API_RESULTS) this.api.inc({ endpoint: e, result: r }, 0)
    for (const r of ROOM_KEY_RESULTS) this.api.inc({ endpoint: 'room_key', result: r }, 0)
    this.api.inc({ endpoint: 'room_key_current', result: 'not_joined' }, 0)
  }
}
