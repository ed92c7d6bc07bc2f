/**
 * The sender's bookkeeping for messages on their way to an ingress: which fragments wait to be
 * sent, which wait for their ack, when to re-send, and when to give up. No I/O and no timers: the
 * SDK calls it with the time. Bounded by `maxFragments`.
 *
 * A fragment is re-sent when its ack does not come within `ackTimeoutMs` (doubling per attempt).
 * A message is done when the ingress says `delivered` for any of its fragments (it says so for
 * the fragment that completed it, and again for any duplicate). Fragments acked `received` whose
 * message is still not delivered `3 × ackTimeoutMs` later are sent again: the ingress may have
 * restarted and lost the partial message, which lived only in its memory.
 */
import { ACK_STATUS, type AckStatus } from '../mix/index.ts'

export interface OutboxLimits {
  readonly ackTimeoutMs: number
  readonly maxAttempts: number
  readonly maxFragments: number
}

export interface OutFragment {
  readonly message: OutMessage
  readonly index: number
  readonly bytes: Buffer
  attempts: number
  acked: boolean
  queued: boolean
  dueMs: number
}

export interface OutMessage {
  readonly id: string
  readonly ingressId: string
  readonly createdMs: number
  readonly fragments: OutFragment[]
}

export type OutboxEvent =
  | { readonly type: 'acked'; readonly messageId: string; readonly index: number; readonly status: AckStatus }
  | { readonly type: 'delivered'; readonly messageId: string; readonly latencyMs: number }
  | {
      readonly type: 'failed'
      readonly messageId: string
      readonly code:
        | 'CLIENT_REFUSED'
        | 'CLIENT_ACK_TIMEOUT'
        | 'CLIENT_NO_ROUTE'
        | 'CLIENT_INGRESS_UNVERIFIED'
        | 'CLIENT_QUEUE_FULL'
    }

export class Outbox {
  readonly #messages = new Map<string, OutMessage>()
  readonly #ready: OutFragment[] = []
  #fragments = 0

  constructor(private readonly limits: OutboxLimits) {}

  get messages(): number {
    return this.#messages.size
  }
  get fragments(): number {
    return this.#fragments
  }
  get queued(): number {
    return this.#ready.length
  }

  /** False when the outbox cannot take this many more fragments. */
  add(id: string, ingressId: string, fragments: readonly Buffer[], nowMs: number): boolean {
    if (this.#fragments + fragments.length > this.limits.maxFragments) return false
    const m: OutMessage = { id, ingressId, createdMs: nowMs, fragments: [] }
    fragments.forEach((bytes, index) => {
      const f: OutFragment = { message: m, index, bytes, attempts: 0, acked: false, queued: true, dueMs: 0 }
      m.fragments.push(f)
      this.#ready.push(f)
    })
    this.#fragments += fragments.length
    this.#messages.set(id, m)
    return true
  }

  /** The next fragment to put on the wire, oldest first. */
  next(): OutFragment | undefined {
    for (;;) {
      const f = this.#ready.shift()
      if (f === undefined) return undefined
      f.queued = false
      if (this.#messages.get(f.message.id) === f.message) return f
    }
  }

  /** Put a fragment back at the front (the link could not take it). */
  unshift(f: OutFragment): void {
    f.queued = true
    this.#ready.unshift(f)
  }

  /** Put a fragment at the back (its ingress is not in the current document: let others go first). */
  defer(f: OutFragment): void {
    f.queued = true
    this.#ready.push(f)
  }

  /** Give up on a message that cannot be routed. */
  abandon(f: OutFragment, code: 'CLIENT_NO_ROUTE' | 'CLIENT_INGRESS_UNVERIFIED'): OutboxEvent[] {
    if (this.#messages.get(f.message.id) !== f.message) return []
    this.#finish(f.message)
    return [{ type: 'failed', messageId: f.message.id, code }]
  }

  markSent(f: OutFragment, nowMs: number): void {
    f.attempts++
    f.dueMs = nowMs + this.limits.ackTimeoutMs * 2 ** (f.attempts - 1)
  }

  onAck(messageId: string, index: number, status: AckStatus, nowMs: number): OutboxEvent[] {
    const m = this.#messages.get(messageId)
    const f = m?.fragments[index]
    if (m === undefined || f === undefined) return []
    const out: OutboxEvent[] = [{ type: 'acked', messageId, index, status }]
    if (status === ACK_STATUS.delivered) {
      this.#finish(m)
      out.push({ type: 'delivered', messageId, latencyMs: nowMs - m.createdMs })
    } else if (status === ACK_STATUS.refused) {
      this.#finish(m)
      out.push({ type: 'failed', messageId, code: 'CLIENT_REFUSED' })
    } else if (status === ACK_STATUS.received) {
      f.acked = true
      f.dueMs = nowMs + 3 * this.limits.ackTimeoutMs
    } else {
      // try later: the ingress is rate limiting or full; wait a whole timeout before trying again.
      f.dueMs = nowMs + this.limits.ackTimeoutMs
    }
    return out
  }

  /** Re-queue what is overdue; fail messages out of attempts. */
  tick(nowMs: number): OutboxEvent[] {
    const out: OutboxEvent[] = []
    for (const m of [...this.#messages.values()]) {
      for (const f of m.fragments) {
        if (f.queued || f.attempts === 0 || nowMs < f.dueMs) continue
        if (f.attempts >= this.limits.maxAttempts) {
          this.#finish(m)
          out.push({ type: 'failed', messageId: m.id, code: 'CLIENT_ACK_TIMEOUT' })
          break
        }
        f.acked = false
        f.queued = true
        this.#ready.push(f)
      }
    }
    return out
  }

  #finish(m: OutMessage): void {
    if (this.#messages.get(m.id) !== m) return
    this.#messages.delete(m.id)
    this.#fragments -= m.fragments.length
  }
}
