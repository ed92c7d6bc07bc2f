/**
 * Where an acknowledged message's time went, from timestamps the sending client takes itself:
 * nothing of it is on the wire or at a relay. The stages are cut at instants the client sees, so
 * that they add up exactly to the latency it reports (send() to the 'delivered' ack):
 *
 *   created ─ slot ─ first send slot ─ resend ─ the slot of the acked attempt ─ flight ─ (the ack
 *   reaches the mailbox) ─ mailbox ─ the mailbox read that brought it ─ answer ─ ack handled
 *
 * A mailbox read is a PULL the client sent. The one instant the client cannot see is when the ack
 * reached its mailbox: after the read before (else that read would have brought it, or after the
 * slot if that was later) and before the read that brought it. The reads keep their own clock,
 * unrelated to when acks come, so the ack's arrival is uniform over that gap: it is put at the
 * gap's middle. Per message that is an estimate (the wait is anywhere in the gap); summed over
 * many its mean is right. Pure: no clock, the SDK passes the times.
 */

export interface AckTimes {
  /** The message was queued (send(), or when a message waiting for a route got one). */
  readonly createdMs: number
  /** The first send slot that carried the fragment whose ack completed the message. */
  readonly firstSlotMs: number
  /** The send slot of the attempt whose SURB brought the ack back. */
  readonly slotMs: number
  /** The mailbox read before the one that brought the ack; undefined when there was none. */
  readonly prevReadMs?: number
  /** The mailbox read that brought the ack; undefined when the client does not know it. */
  readonly readMs?: number
  /** The ack was handled. */
  readonly ackMs: number
}

export interface LatencyStages {
  /** Queued until the first send slot that carried the fragment (waiting behind cover's schedule and other fragments). */
  readonly slotMs: number
  /** First send slot to the slot of the attempt that was acked: ack timeouts and the re-send's own slot wait. */
  readonly resendMs: number
  /** That slot to the ack in the mailbox: out through 5 relays, the ingress, back through 5 (estimated to within half a read gap). */
  readonly flightMs: number
  /** The ack waiting in the mailbox for the read that brought it (estimated: half the gap it came in). */
  readonly mailboxMs: number
  /** The read that brought the ack to the ack handled: the gateway's answer on the link. */
  readonly answerMs: number
}

export const STAGES = ['slotMs', 'resendMs', 'flightMs', 'mailboxMs', 'answerMs'] as const

/**
 * The stages of one acknowledged message; they sum to `ackMs - createdMs` (0 if the clock went
 * back). A clock step or an instant the client could not see is clamped to its neighbours, which
 * moves time between two stages but never loses or adds any.
 */
export function stagesOf(t: AckTimes): LatencyStages {
  const end = Math.max(t.createdMs, t.ackMs)
  let at = t.createdMs
  // Each cut lies between the previous one and the end.
  const cut = (x: number): number => {
    at = Math.min(end, Math.max(at, x))
    return at
  }
  const b1 = cut(t.firstSlotMs)
  const b2 = cut(t.slotMs)
  // Without the read that brought it, the whole way from the slot to the ack counts as flight;
  // without the read before, the ack may have come any time after the slot.
  const read = t.readMs ?? end
  const b3 = cut(t.readMs === undefined ? end : (Math.max(t.prevReadMs ?? b2, b2) + read) / 2)
  const b4 = cut(read)
  return { slotMs: b1 - t.createdMs, resendMs: b2 - b1, flightMs: b3 - b2, mailboxMs: b4 - b3, answerMs: end - b4 }
}

/**
 * The client's last mailbox reads, newest last: enough to find, for a MAILBOX frame, the read
 * that brought it and the one before. Bounded: the last `keep`.
 */
export class ReadLog {
  readonly #times: number[] = []

  constructor(private readonly keep = 8) {}

  read(nowMs: number): void {
    this.#times.push(nowMs)
    if (this.#times.length > this.keep) this.#times.shift()
  }

  /** The newest read at or before `atMs` (the one a frame arriving then answers), and the read before it. */
  around(atMs: number): { readMs?: number; prevReadMs?: number } {
    for (let i = this.#times.length - 1; i >= 0; i--)
      if (this.#times[i]! <= atMs) return { readMs: this.#times[i], prevReadMs: this.#times[i - 1] }
    return {}
  }

  clear(): void {
    this.#times.length = 0
  }
}
