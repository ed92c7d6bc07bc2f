/**
 * When a client reads its mailbox (docs/PROTOCOL.md §17, §19): the PULLs it sends, the pushes it
 * sees, and the log of reads that the latency breakdown reads (latency.ts). A gateway that pushes
 * sends one push every interval whether or not a reply waits; a client that sees no push for two
 * pull intervals (a gateway before pushes, or one that stopped) pulls every interval and asks
 * again. Pure bookkeeping on times the client passes in: no clock, no I/O.
 */
import { ReadLog } from './latency.ts'

/**
 * A MAILBOX frame that comes later than this after the last PULL was pushed (an answer to a PULL
 * comes within a round trip); at most half the pull interval. A link slower than this to a gateway
 * that does not push is pulled every other interval.
 */
const PROMPT_MS = 500
/** Frames of one push come back to back; a frame this long after the previous one begins another push. */
const PUSH_GAP_MS = 20

/** The byte after the mailbox id in PULL: 1 asks for pushes, 0 (a client before pushes: zero padding) not. */
export function pullMode(push: boolean): Buffer {
  return Buffer.of(push ? 1 : 0)
}

export class MailboxReads {
  /** The reads, for the breakdown of an ack: bounded (ReadLog keeps a few). */
  readonly log = new ReadLog()
  #pulledMs = -Infinity
  #pushedMs = -Infinity
  #frameMs = -Infinity

  constructor(private readonly pullIntervalMs: number) {}

  /** A new connection: nothing has been pushed on it yet. */
  connected(): void {
    this.#pushedMs = -Infinity
  }

  /** A PULL left. */
  pulled(nowMs: number): void {
    this.#pulledMs = nowMs
    this.log.read(nowMs)
  }

  /** At a pull interval's tick: pull unless pushes are coming (a PULL would only add frames). */
  shouldPull(nowMs: number): boolean {
    return nowMs - this.#pushedMs >= 2 * this.pullIntervalMs
  }

  /**
   * A MAILBOX frame arrived. A pull's answer comes at once; a frame long after the last PULL was
   * pushed, and the first frame of a push marks when the gateway read the mailbox.
   */
  frame(nowMs: number): void {
    if (nowMs - this.#pulledMs > Math.min(PROMPT_MS, this.pullIntervalMs / 2)) {
      if (nowMs - this.#frameMs > PUSH_GAP_MS) this.log.read(nowMs)
      this.#pushedMs = nowMs
    }
    this.#frameMs = nowMs
  }
}
