/**
 * The gateway's edge: pushes spooled payloads to connected ingresses (DELIVER frames, a bounded
 * window of unacknowledged ones, deleted only on ACK) and answers mailbox pulls with exactly
 * `pullBatch` frames, real records first, then cover indistinguishable on the wire.
 */
import { encodeFrame, FRAME, type CryptoSuite, type Geometry } from '../mix/index.ts'
import type { BatchOp } from './store/db.ts'
import type { QueueStore } from './store/queue-store.ts'
import type { Conn } from './transport/server.ts'
import type { RelayMetrics } from './metrics.ts'
import { u64 } from './store/db.ts'

const WINDOW = 64
/**
 * Mailboxes a connection's ACKs may refer to: the most recently pulled ones. A client pulls its
 * own mailbox (one, or a few while it moves between profiles); a connection that pulls thousands
 * of ids would otherwise grow this set without bound and make every ACK walk it (issue 16: 60k
 * PULLs then 300 ACKs froze a gateway's event loop for 30 s).
 */
export const PULLED_PER_CONNECTION = 4

interface IngressState { conn: Conn, sentUpTo: number, inflight: Set<number>, pushing: boolean }

export class Edge {
  readonly #ingresses = new Map<string, IngressState>()
  readonly #pulled = new WeakMap<Conn, Set<string>>()
  #ops: BatchOp[] = []

  constructor (private readonly o: { crypto: CryptoSuite, geometry: Geometry, spool: QueueStore, mailbox: QueueStore, mailboxKey: Buffer, pullBatch: number, metrics: RelayMetrics }) {}

  /** Deletes acknowledged records in the next round's synced batch. */
  takeOps (): BatchOp[] { const ops = this.#ops; this.#ops = []; return ops }

  ingressUp (id: string, conn: Conn): void {
    this.#ingresses.set(id, { conn, sentUpTo: 0, inflight: new Set(), pushing: false })
    void this.push(id)
  }

  ingressDown (id: string, conn: Conn): void {
    if (this.#ingresses.get(id)?.conn === conn) this.#ingresses.delete(id)
  }

  /** Send spooled records to a connected ingress, up to the window. */
  async push (id: string): Promise<void> {
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

  ingressAck (id: string, body: Buffer): void {
    const seq = Number(body.readBigUInt64BE(0))
    const s = this.#ingresses.get(id)
    s?.inflight.delete(seq)
    const op = this.o.spool.ack(Buffer.from(id, 'hex'), seq)
    if (op !== null) { this.#ops.push(op); this.o.metrics.delivered.inc({ link: 'ingress' }) }
    void this.push(id)
  }

  /** The storage key of a mailbox: BLAKE2b-256 keyed with the relay's mailbox key; the id itself is never stored. */
  mailboxKeyOf (mailboxId: Uint8Array): Buffer {
    const h = Buffer.alloc(32)
    this.o.crypto.blake2b(h, mailboxId, this.o.mailboxKey)
    return h
  }

  async pull (conn: Conn, body: Buffer): Promise<void> {
    const key = this.mailboxKeyOf(body.subarray(0, 32))
    let set = this.#pulled.get(conn)
    if (set === undefined) { set = new Set(); this.#pulled.set(conn, set) }
    // Most recent last; the oldest goes beyond PULLED_PER_CONNECTION (its records stay stored, for the next pull).
    const hex = key.toString('hex')
    set.delete(hex)
    set.add(hex)
    while (set.size > PULLED_PER_CONNECTION) set.delete(set.values().next().value as string)
    const recs = await this.o.mailbox.read(key, 0, this.o.pullBatch)
    const g = this.o.geometry
    for (let i = 0; i < this.o.pullBatch; i++) {
      const r = recs[i]
      const frame = r !== undefined
        ? encodeFrame(g, FRAME.MAILBOX, u64(r.seq), r.record)
        : encodeFrame(g, FRAME.MAILBOX, this.#random(8), this.#random(16 + g.bodyBytes))
      if (conn.send(frame)) this.o.metrics.sent.inc({ link: 'client' })
      else this.o.metrics.dropped.inc({ reason: 'queue_full' })
    }
  }

  /** How many mailboxes a connection's ACKs are checked against (at most PULLED_PER_CONNECTION). */
  pulledBy (conn: Conn): number { return this.#pulled.get(conn)?.size ?? 0 }

  clientAck (conn: Conn, body: Buffer): void {
    const seq = Number(body.readBigUInt64BE(0))
    for (const k of this.#pulled.get(conn) ?? []) {
      const op = this.o.mailbox.ack(Buffer.from(k, 'hex'), seq)
      if (op !== null) { this.#ops.push(op); this.o.metrics.delivered.inc({ link: 'client' }); return }
    }
  }

  #random (n: number): Buffer {
    const b = Buffer.alloc(n)
    this.o.crypto.randomFill(b)
    return b
  }
}
