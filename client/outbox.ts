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
 *
 * What must survive a restart (the messages, each fragment's bytes, attempts, acked flag and due
 * time) is told to an optional listener as it changes, and taken back with `restore`; the I/O is
 * the SDK's (client/store.ts). Whether a fragment is in the send queue is not kept: it is derived
 * again on restore (never sent: queued; sent: waiting for its ack until its due time).
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
  /** When its first attempt left, for the latency breakdown (client/latency.ts); not kept across a restart. */
  firstSentMs?: number
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

/** What of a message survives a restart: the listener's view, and what `restore` takes back. */
export interface OutMessageRecord {
  readonly id: string
  readonly ingressId: string
  readonly createdMs: number
  readonly fragments: ReadonlyArray<OutFragmentRecord>
}

export interface OutFragmentRecord {
  readonly bytes: Buffer
  readonly attempts: number
  readonly acked: boolean
  readonly dueMs: number
}

/** Told of every change that a restart must not lose, after the change is made. */
export interface OutboxListener {
  added(m: OutMessage): void
  /** A fragment's attempts, acked flag or due time changed. */
  changed(f: OutFragment): void
  /** The message is done (delivered, failed or abandoned): none of it is needed any more. */
  removed(m: OutMessage): void
}

export class Outbox {
  /** Bound: maxFragments fragments in all (each message has at least one). */
  readonly #messages = new Map<string, OutMessage>()
  /** Bound: the queued fragments of #messages, plus those of finished messages that next() has not skipped yet. */
  readonly #ready: OutFragment[] = []
  #fragments = 0

  constructor(
    private readonly limits: OutboxLimits,
    private readonly listener?: OutboxListener
  ) {}

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
    this.listener?.added(m)
    return true
  }

  /**
   * Take back messages a previous run kept, in the order given (oldest first). A fragment never
   * sent is queued; one sent keeps its attempts and due time, so it is sent again only if its ack
   * does not come by then. Returns the messages that do not fit `maxFragments` (a smaller limit
   * than the run that kept them): they are not taken, and the caller fails them.
   */
  restore(records: readonly OutMessageRecord[]): OutMessageRecord[] {
    const refused: OutMessageRecord[] = []
    for (const r of records) {
      if (this.#messages.has(r.id) || r.fragments.length === 0) continue
      if (this.#fragments + r.fragments.length > this.limits.maxFragments) {
        refused.push(r)
        continue
      }
      const m: OutMessage = { id: r.id, ingressId: r.ingressId, createdMs: r.createdMs, fragments: [] }
      r.fragments.forEach((k, index) => {
        const f: OutFragment = {
          message: m,
          index,
          bytes: k.bytes,
          attempts: k.attempts,
          acked: k.acked,
          queued: k.attempts === 0,
          dueMs: k.dueMs
        }
        m.fragments.push(f)
        if (f.queued) this.#ready.push(f)
      })
      this.#fragments += m.fragments.length
      this.#messages.set(m.id, m)
    }
    return refused
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

  /** A fragment of a message that is not done yet. */
  fragment(messageId: string, index: number): OutFragment | undefined {
    return this.#messages.get(messageId)?.fragments[index]
  }

  markSent(f: OutFragment, nowMs: number): void {
    // A fragment taken back from a store after it was sent keeps none: its first slot is not known.
    if (f.attempts === 0) f.firstSentMs = nowMs
    f.attempts++
    f.dueMs = nowMs + this.limits.ackTimeoutMs * 2 ** (f.attempts - 1)
    this.listener?.changed(f)
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
      this.listener?.changed(f)
    } else {
      // try later: the ingress is rate limiting or full; wait a whole timeout before trying again.
      f.dueMs = nowMs + this.limits.ackTimeoutMs
      this.listener?.changed(f)
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
        f.queued = true
        this.#ready.push(f)
        if (f.acked) {
          f.acked = false
          this.listener?.changed(f)
        }
      }
    }
    return out
  }

  #finish(m: OutMessage): void {
    if (this.#messages.get(m.id) !== m) return
    this.#messages.delete(m.id)
    this.#fragments -= m.fragments.length
    this.listener?.removed(m)
  }
}
