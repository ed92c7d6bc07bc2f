/**
 * One 'message' listener per socket for its whole life. During the handshake frames are queued
 * and taken one at a time with next(); afterwards setHandler() dispatches directly, after first
 * handing over anything that arrived in between (ws emits several messages in one tick when they
 * share a TCP chunk, so nothing may be lost between the two phases).
 *
 * Bound: before setHandler() at most `maxQueued` messages wait (HANDSHAKE_QUEUE, 64: a handshake
 * needs two, and what a peer sends right behind its AUTH fits in a TCP chunk or two); a peer that
 * sends more before its handshake is done is cut off with `onOverflow` (its socket terminated by
 * default), never buffered.
 */
import type WebSocket from 'ws'

export type RawMessage = { readonly data: Buffer; readonly isBinary: boolean }

/** Messages held while a handshake runs; see the bound above. */
export const HANDSHAKE_QUEUE = 64

export class FrameReader {
  #queue: RawMessage[] = []
  #waiter: ((m: RawMessage | null) => void) | null = null
  #handler: ((m: RawMessage) => void) | null = null
  #closed = false

  constructor(ws: WebSocket, o: { maxQueued?: number; onOverflow?: () => void } = {}) {
    const max = o.maxQueued ?? HANDSHAKE_QUEUE
    const overflow = o.onOverflow ?? (() => ws.terminate())
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = { data, isBinary }
      if (this.#handler !== null) this.#handler(m)
      else if (this.#closed) return
      else if (this.#waiter !== null) {
        const w = this.#waiter
        this.#waiter = null
        w(m)
      } else if (this.#queue.length < max) this.#queue.push(m)
      else {
        this.#closed = true
        this.#queue = []
        overflow()
      }
    })
    ws.once('close', () => {
      this.#closed = true
      if (this.#waiter !== null) {
        const w = this.#waiter
        this.#waiter = null
        w(null)
      }
    })
  }

  /** The next message, or null on close or timeout. */
  async next(timeoutMs: number): Promise<RawMessage | null> {
    const q = this.#queue.shift()
    if (q !== undefined) return q
    if (this.#closed) return null
    return await new Promise(resolve => {
      const t = setTimeout(() => {
        this.#waiter = null
        resolve(null)
      }, timeoutMs)
      this.#waiter = m => {
        clearTimeout(t)
        resolve(m)
      }
    })
  }

  setHandler(h: (m: RawMessage) => void): void {
    this.#handler = h
    const q = this.#queue
    this.#queue = []
    for (const m of q) h(m)
  }
}
