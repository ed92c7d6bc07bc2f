/**
 * The gateway's edge: pushes spooled payloads to connected ingresses (DELIVER frames, a bounded
 * window of unacknowledged ones, deleted only on ACK) and answers mailbox pulls with exactly
 * `pullBatch` frames, real records first, then cover indistinguishable on the wire.
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
 * Per ingress link, keyed by its authenticated id (so at most one per ingress the document lists).
 * `inflight`: at most WINDOW delivery ids; an ACK is honoured only for one of them (O(1)).
 */
interface IngressState {
  conn: Conn
  sentUpTo: number
  inflight: Set<number>
  pushing: boolean
}

/** Per client connection (a WeakMap entry: it goes with the connection). Every field is bounded. */
interface ClientState {
  /** The last PULLED_PER_CONNECTION mailboxes pulled, oldest first: storage key, and the ids of the real records handed over from it (at most pullBatch). */
  readonly pulled: Map<string, { readonly key: Buffer; readonly seqs: number[] }>
  /** Delivery id → mailbox (hex storage key), for exactly the records in `pulled`: at most PULLED_PER_CONNECTION × pullBatch. An ACK is one lookup here. */
  readonly handed: Map<number, string>
  /** A pull is being answered; PULLs are answered one at a time per connection. */
  pulling: boolean
  /** At most one PULL waits behind the one being answered; a newer one replaces it (counted queue_full). */
  next: Buffer | null
}

export class Edge {
  readonly #ingresses = new Map<string, IngressState>()
  readonly #clients = new WeakMap<Conn, ClientState>()
  /** Deletes for the next round's batch: one per honoured ACK, at most the records held; taken every round. */
  #ops: BatchOp[] = []

  constructor(
    private readonly o: {
      crypto: CryptoSuite
      geometry: Geometry
      spool: QueueStore
      mailbox: QueueStore
      mailboxKey: Buffer
      pullBatch: number
      metrics: RelayMetrics
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
   * at a time, not one per frame received.
   */
  async pull(conn: Conn, body: Buffer): Promise<void> {
    let st = this.#clients.get(conn)
    if (st === undefined) {
      st = { pulled: new Map(), handed: new Map(), pulling: false, next: null }
      this.#clients.set(conn, st)
    }
    const id = Buffer.from(body.subarray(0, 32))
    if (st.pulling) {
      if (st.next !== null) drop(this.o.metrics, 'queue_full')
      st.next = id
      return
    }
    st.pulling = true
    try {
      let next: Buffer | null = id
      while (next !== null) {
        await this.#answer(conn, st, next)
        next = st.next
        st.next = null
      }
    } finally {
      st.pulling = false
    }
  }

  async #answer(conn: Conn, st: ClientState, mailboxId: Buffer): Promise<void> {
    const key = this.mailboxKeyOf(mailboxId)
    const hex = key.toString('hex')
    // Most recent last; beyond PULLED_PER_CONNECTION the oldest goes, with what it handed over
    // (those records stay stored and are handed over again at the next pull of their mailbox).
    this.#forget(st, hex)
    const got = { key, seqs: [] as number[] }
    st.pulled.set(hex, got)
    while (st.pulled.size > PULLED_PER_CONNECTION) this.#forget(st, st.pulled.keys().next().value as string)
    const recs = await this.o.mailbox.read(key, 0, this.o.pullBatch)
    const g = this.o.geometry
    for (let i = 0; i < this.o.pullBatch; i++) {
      const r = recs[i]
      const frame =
        r !== undefined
          ? encodeFrame(g, FRAME.MAILBOX, u64(r.seq), r.record)
          : encodeFrame(g, FRAME.MAILBOX, this.#random(8), this.#random(16 + g.bodyBytes))
      if (!conn.send(frame)) {
        // The connection's send buffer is full: the rest would be dropped too, so it is not even built.
        drop(this.o.metrics, 'queue_full', this.o.pullBatch - i)
        return
      }
      this.o.metrics.sent.inc({ link: 'client' })
      if (r !== undefined && st.pulled.get(hex) === got) {
        got.seqs.push(r.seq)
        st.handed.set(r.seq, hex)
      }
    }
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
    const op = this.o.mailbox.ack(st.pulled.get(hex)!.key, seq)
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
