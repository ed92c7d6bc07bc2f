/**
 * The gateway's edge: pushes spooled payloads to connected ingresses (DELIVER frames, a bounded
 * window of unacknowledged ones, deleted only on ACK) and answers mailbox pulls with exactly
 * `pullBatch` frames, real records first, then cover indistinguishable on the wire. A client that
 * asks (a PULL whose mode byte is 1, docs/PROTOCOL.md §17) also gets its mailbox pushed: every
 * `pushIntervalMs`, exactly `pushBatch` frames, whatever the mailbox holds, so that an ack waits
 * there a fraction of a pull interval and the link shows the same frames whether or not it did.
 */
import { type CryptoSuite, encodeFrame, FRAME, type Geometry } from '../../../mix/index.ts'
import type { BatchOp } from '../../io/index.ts'
import { u64 } from '../../io/index.ts'
import { drop } from '../drops.ts'
import type { Conn } from '../listener/server.ts'
import type { RelayMetrics } from '../metrics.ts'
import type { QueueStore } from './queue-store.ts'

/** Unacknowledged DELIVER frames per ingress connection (the bound of IngressState.inflight). */
const WINDOW = 64
/**
 * Mailboxes a connection's ACKs may refer to: the most recently pulled ones. A client pulls its
 * own mailbox (one, or a few while it moves between profiles); a connection that pulls thousands
 * of ids would otherwise grow this set without bound and make every ACK walk it (60k PULLs then
 * 300 ACKs would freeze a gateway's event loop for seconds).
 */
export const PULLED_PER_CONNECTION = 4
/**
 * Pushes, unless the config says otherwise (`mailbox.pushIntervalMs`, `mailbox.pushBatch`): one
 * frame every 100 ms. A client's replies (its acks and loops) come at a few a second;
 * 10 frames a second carry them with a mean wait of 50 ms, at less than a 16-frame pull every
 * second costs (each frame is acknowledged with a frame of the same size).
 */
export const PUSH_INTERVAL_MS = 100
export const PUSH_BATCH = 1
/**
 * Real records pushed to a connection and not yet acknowledged: beyond this, pushes carry cover
 * only (the same frames on the wire) until ACKs come, so a client that never acknowledges holds a
 * bounded set. A pull of that mailbox hands its records again from the oldest.
 */
export const PUSH_UNACKED = 64
/** Connections whose push frames are built and sent before the push yields to the event loop. */
export const PUSH_CHUNK = 256

/**
 * Per ingress link, keyed by its authenticated id (so at most one per ingress the document lists).
 * `inflight`: at most WINDOW delivery ids; an ACK is honoured only for one of them (O(1)).
 */
interface IngressState {
  conn: Conn
  sentUpTo: number
  inflight: Set<number>
  pushing: boolean
}

/** A connection's push subscription: which mailbox, and the newest record pushed from it. */
type PushSub = { readonly hex: string; sentUpTo: number }

/** Per client connection (a WeakMap entry: it goes with the connection). Every field is bounded. */
interface ClientState {
  /** The last PULLED_PER_CONNECTION mailboxes pulled, oldest first: storage key, and the ids of the real records handed over from it (at most pullBatch, plus PUSH_UNACKED for the pushed one). */
  readonly pulled: Map<string, { readonly key: Buffer; readonly seqs: Set<number> }>
  /** Delivery id → mailbox (hex storage key), for exactly the records in `pulled`. An ACK is one lookup here. */
  readonly handed: Map<number, string>
  /** A pull is being answered; PULLs are answered one at a time per connection. */
  pulling: boolean
  /** At most one PULL waits behind the one being answered; a newer one replaces it (counted queue_full). */
  next: { readonly id: Buffer; readonly push: boolean } | null
  /** The mailbox pushed to this connection (one of `pulled`), and the last record pushed from it. */
  push: PushSub | null
}

export class Edge {
  readonly #ingresses = new Map<string, IngressState>()
  readonly #clients = new WeakMap<Conn, ClientState>()
  /** Deletes for the next round's batch: one per honoured ACK, at most the records held; taken every round. */
  #ops: BatchOp[] = []
  /** Client connections whose mailbox is pushed (at most the connections open: each leaves at its first push not taken). */
  readonly #subscribers = new Set<Conn>()
  #pushTimer: ReturnType<typeof setInterval> | null = null
  /** A push round is running (reads of the mailboxes, then the sends): a tick that finds one running is skipped. */
  #pushRunning = false

  constructor(
    private readonly o: {
      crypto: CryptoSuite
      geometry: Geometry
      spool: QueueStore
      mailbox: QueueStore
      mailboxKey: Buffer
      pullBatch: number
      metrics: RelayMetrics
      /** @default PUSH_INTERVAL_MS */
      pushIntervalMs?: number
      /** @default PUSH_BATCH */
      pushBatch?: number
    }
  ) {}

  /** Deletes acknowledged records in the next round's synced batch. */
  takeOps(): BatchOp[] {
    const ops = this.#ops
    this.#ops = []
    return ops
  }

  ingressUp(id: string, conn: Conn): void {
    this.#ingresses.set(id, { conn, sentUpTo: 0, inflight: new Set(), pushing: false })
    void this.push(id)
  }

  ingressDown(id: string, conn: Conn): void {
    if (this.#ingresses.get(id)?.conn === conn) this.#ingresses.delete(id)
  }

  /** Send spooled records to a connected ingress, up to the window. */
  async push(id: string): Promise<void> {
    const s = this.#ingresses.get(id)
    if (s === undefined || s.pushing) return
    s.pushing = true
    try {
      const dest = Buffer.from(id, 'hex')
      while (s.inflight.size < WINDOW) {
        const recs = await this.o.spool.read(dest, s.sentUpTo, WINDOW - s.inflight.size)
        if (recs.length === 0) break
        for (const r of recs) {
          s.sentUpTo = r.seq
          // A full send buffer: stop here; the record stays spooled and is sent again on reconnect.
          if (!s.conn.send(encodeFrame(this.o.geometry, FRAME.DELIVER, u64(r.seq), r.record))) return
          s.inflight.add(r.seq)
          this.o.metrics.sent.inc({ link: 'ingress' })
        }
      }
    } finally {
      s.pushing = false
    }
  }

  ingressAck(id: string, body: Buffer): void {
    const seq = Number(body.readBigUInt64BE(0))
    const s = this.#ingresses.get(id)
    // Only an id in flight on this link deletes anything: others cost one Set lookup, never a walk of the spool.
    if (s === undefined || !s.inflight.delete(seq)) return
    const op = this.o.spool.ack(Buffer.from(id, 'hex'), seq)
    if (op !== null) {
      this.#ops.push(op)
      this.o.metrics.delivered.inc({ link: 'ingress' })
    }
    void this.push(id)
  }

  /** The storage key of a mailbox: BLAKE2b-256 keyed with the relay's mailbox key; the id itself is never stored. */
  mailboxKeyOf(mailboxId: Uint8Array): Buffer {
    const h = Buffer.alloc(32)
    this.o.crypto.blake2b(h, mailboxId, this.o.mailboxKey)
    return h
  }

  /**
   * Answer a PULL with exactly pullBatch MAILBOX frames. One pull at a time per connection: a PULL
   * that arrives meanwhile waits (only the newest one), so a flood of PULLs costs one LevelDB read
   * at a time, not one per frame received. A PULL whose mode byte (after the mailbox id) is 1
   * makes that mailbox the one pushed to this connection; mode 0 (an older client's zero padding)
   * changes nothing about pushes.
   */
  async pull(conn: Conn, body: Buffer): Promise<void> {
    let st = this.#clients.get(conn)
    if (st === undefined) {
      st = { pulled: new Map(), handed: new Map(), pulling: false, next: null, push: null }
      this.#clients.set(conn, st)
    }
    const req = { id: Buffer.from(body.subarray(0, 32)), push: body.length > 32 && body[32] === 1 }
    if (st.pulling) {
      if (st.next !== null) drop(this.o.metrics, 'queue_full')
      st.next = req
      return
    }
    st.pulling = true
    try {
      let next: { id: Buffer; push: boolean } | null = req
      while (next !== null) {
        const handed = await this.#answer(conn, st, next.id)
        // A pull of the pushed mailbox handed its oldest records again: pushes go on after them.
        if (handed !== null && (next.push || st.push?.hex === handed.hex)) this.#subscribe(conn, st, handed)
        next = st.next
        st.next = null
      }
    } finally {
      st.pulling = false
    }
  }

  /** The mailbox and the last record a pull handed over, or null when the connection did not take the answer. */
  async #answer(
    conn: Conn,
    st: ClientState,
    mailboxId: Buffer
  ): Promise<{ readonly hex: string; readonly upTo: number } | null> {
    const key = this.mailboxKeyOf(mailboxId)
    const hex = key.toString('hex')
    // Most recent last; beyond PULLED_PER_CONNECTION the oldest goes, with what it handed over
    // (those records stay stored and are handed over again at the next pull of their mailbox).
    this.#forget(st, hex)
    const got = { key, seqs: new Set<number>() }
    st.pulled.set(hex, got)
    while (st.pulled.size > PULLED_PER_CONNECTION) this.#forget(st, st.pulled.keys().next().value as string)
    const recs = await this.o.mailbox.read(key, 0, this.o.pullBatch)
    const frames = this.#frames(recs, this.o.pullBatch)
    for (let i = 0; i < frames.length; i++) {
      if (!conn.send(frames[i]!)) {
        // The connection's send buffer is full: the rest would be dropped too.
        drop(this.o.metrics, 'queue_full', frames.length - i)
        return null
      }
      this.o.metrics.sent.inc({ link: 'client' })
      const r = recs[i]
      if (r !== undefined && st.pulled.get(hex) === got) {
        got.seqs.add(r.seq)
        st.handed.set(r.seq, hex)
      }
    }
    return { hex, upTo: recs.at(-1)?.seq ?? 0 }
  }

  /** Exactly `n` MAILBOX frames: `recs` (at most n) first, then cover, all built before any is sent. */
  #frames(recs: readonly { seq: number; record: Buffer }[], n: number): Buffer[] {
    const g = this.o.geometry
    const frames: Buffer[] = []
    for (let i = 0; i < n; i++) {
      const r = recs[i]
      frames.push(
        r !== undefined
          ? encodeFrame(g, FRAME.MAILBOX, u64(r.seq), r.record)
          : encodeFrame(g, FRAME.MAILBOX, this.#random(8), this.#random(16 + g.bodyBytes))
      )
    }
    return frames
  }

  /** Push `handed.hex` to this connection from the record after the pull's last one on. */
  #subscribe(conn: Conn, st: ClientState, handed: { readonly hex: string; readonly upTo: number }): void {
    st.push = { hex: handed.hex, sentUpTo: handed.upTo }
    this.#subscribers.add(conn)
    if (this.#pushTimer === null) {
      this.#pushTimer = setInterval(() => void this.#pushRound(), this.o.pushIntervalMs ?? PUSH_INTERVAL_MS)
      // The relay's stop closes the connections; the next round then finds no subscriber and stops the timer.
      this.#pushTimer.unref()
    }
  }

  /** Connections whose mailbox is pushed. */
  get subscribers(): number {
    return this.#subscribers.size
  }

  /**
   * One push to every subscribed connection: exactly pushBatch frames each, the mailbox's next
   * records first, then cover. Every mailbox is read before the first frame is sent, so when a
   * frame leaves does not say whether its own mailbox held anything. Frames are then built and sent
   * PUSH_CHUNK connections at a time, yielding to the event loop between chunks: a push to 10,000
   * connections holds at most PUSH_CHUNK connections' frames (about 0.6 MB) instead of all of
   * them (25 MB), and packets keep flowing while it goes out. A connection that does not take its
   * frames (closed, or not reading) is pushed no more; its records stay stored, and the client's
   * next PULL asks again. Exported for tests; the timer calls it.
   */
  async pushRound(): Promise<void> {
    await this.#pushRound()
  }

  async #pushRound(): Promise<void> {
    if (this.#pushRunning) return
    this.#pushRunning = true
    try {
      const n = this.o.pushBatch ?? PUSH_BATCH
      // At most one entry per subscriber; `recs` only the real records read (at most pushBatch each).
      const read: Array<{ conn: Conn; st: ClientState; sub: PushSub; recs: Array<{ seq: number; record: Buffer }> }> =
        []
      for (const conn of this.#subscribers) {
        const st = this.#clients.get(conn)
        const sub = st?.push
        const got = sub !== undefined && sub !== null ? st!.pulled.get(sub.hex) : undefined
        if (st === undefined || sub === undefined || sub === null || got === undefined) {
          // Its mailbox left the connection's last pulled ones (it pulled others since): no more pushes.
          this.#unsubscribe(conn)
          continue
        }
        const room = Math.max(0, Math.min(n, PUSH_UNACKED - got.seqs.size))
        read.push({ conn, st, sub, recs: room === 0 ? [] : await this.o.mailbox.read(got.key, sub.sentUpTo, room) })
      }
      for (let from = 0; from < read.length; from += PUSH_CHUNK) {
        if (from > 0) await new Promise<void>(resolve => setImmediate(resolve))
        const chunk = read.slice(from, from + PUSH_CHUNK).map(r => ({ ...r, frames: this.#frames(r.recs, n) }))
        for (const { conn, st, sub, recs, frames } of chunk) this.#sendPush(conn, st, sub, recs, frames)
      }
    } finally {
      this.#pushRunning = false
      if (this.#subscribers.size === 0 && this.#pushTimer !== null) {
        clearInterval(this.#pushTimer)
        this.#pushTimer = null
      }
    }
  }

  /** One connection's frames of a push; its real records count as handed over once all are taken. */
  #sendPush(
    conn: Conn,
    st: ClientState,
    sub: PushSub,
    recs: ReadonlyArray<{ seq: number }>,
    frames: readonly Buffer[]
  ): void {
    const got = st.pulled.get(sub.hex)
    // It subscribed to another mailbox, pulled others, or was dropped from the subscribers since its read.
    if (st.push !== sub || got === undefined || !this.#subscribers.has(conn)) return
    for (const f of frames) {
      if (!conn.send(f)) {
        this.#unsubscribe(conn)
        return
      }
      this.o.metrics.sent.inc({ link: 'client' })
    }
    for (const { seq } of recs) {
      got.seqs.add(seq)
      st.handed.set(seq, sub.hex)
      sub.sentUpTo = Math.max(sub.sentUpTo, seq)
    }
  }

  #unsubscribe(conn: Conn): void {
    this.#subscribers.delete(conn)
    const st = this.#clients.get(conn)
    if (st !== undefined) st.push = null
  }

  #forget(st: ClientState, hex: string): void {
    const old = st.pulled.get(hex)
    if (old === undefined) return
    for (const seq of old.seqs) st.handed.delete(seq)
    st.pulled.delete(hex)
  }

  /** How many mailboxes a connection's ACKs are checked against (at most PULLED_PER_CONNECTION). */
  pulledBy(conn: Conn): number {
    return this.#clients.get(conn)?.pulled.size ?? 0
  }

  /** Delivery ids a connection may acknowledge: the real records its last pulls handed over. */
  handedTo(conn: Conn): number {
    return this.#clients.get(conn)?.handed.size ?? 0
  }

  /** O(1): one lookup among the records handed over on this connection, then at most one delete. */
  clientAck(conn: Conn, body: Buffer): void {
    const seq = Number(body.readBigUInt64BE(0))
    const st = this.#clients.get(conn)
    const hex = st?.handed.get(seq)
    if (st === undefined || hex === undefined) return
    st.handed.delete(seq)
    const got = st.pulled.get(hex)!
    got.seqs.delete(seq)
    const op = this.o.mailbox.ack(got.key, seq)
    if (op !== null) {
      this.#ops.push(op)
      this.o.metrics.delivered.inc({ link: 'client' })
    }
  }

  #random(n: number): Buffer {
    const b = Buffer.alloc(n)
    this.o.crypto.randomFill(b)
    return b
  }
}
