/**
 * A durable FIFO per destination with acknowledgement before delete, TTL and a per-destination
 * quota: the exit's spool (destination = ingress id) and the entry's mailboxes (destination =
 * keyed hash of the mailbox id, never the id itself).
 *
 * key   = destination (32) ‖ u64 seq
 * value = u32 hour stored ‖ record
 * Only counts, sizes and hours are kept in memory; records are read from LevelDB when sent.
 */
import { type BatchOp, type Db, hourOf, sublevel, type Sub, u32, u64 } from './db.ts'

interface Dest { count: number, bytes: number, seqs: number[], hours: number[], sizes: number[] }

export interface QueueRecord { readonly seq: number, readonly record: Buffer }

export class QueueStore {
  readonly #sub: Sub
  readonly #dests = new Map<string, Dest>()
  readonly #quota: number
  readonly #ttlMs: number
  #nextSeq = 1
  #count = 0
  #bytes = 0

  constructor (db: Db, name: string, o: { quota: number, ttlMs: number }) {
    this.#sub = sublevel(db, name)
    this.#quota = o.quota
    this.#ttlMs = o.ttlMs
  }

  get count (): number { return this.#count }
  get bytes (): number { return this.#bytes }
  /** Destinations holding at least one record. */
  get destinations (): number { return this.#dests.size }

  /** Load the index at start. */
  async load (): Promise<void> {
    for await (const [k, v] of this.#sub.iterator()) {
      const key = Buffer.from(k as Uint8Array)
      const seq = Number(key.readBigUInt64BE(32))
      this.#index(key.subarray(0, 32).toString('hex'), seq, Buffer.from(v as Uint8Array).readUInt32BE(0), (v as Uint8Array).length - 4)
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1)
    }
  }

  #index (dest: string, seq: number, hour: number, size: number): void {
    let d = this.#dests.get(dest)
    if (d === undefined) { d = { count: 0, bytes: 0, seqs: [], hours: [], sizes: [] }; this.#dests.set(dest, d) }
    d.count++; d.bytes += size; d.seqs.push(seq); d.hours.push(hour); d.sizes.push(size)
    this.#count++; this.#bytes += size
  }

  /** Would one more record fit this destination's quota? */
  hasRoom (dest: Buffer): boolean {
    return (this.#dests.get(dest.toString('hex'))?.count ?? 0) < this.#quota
  }

  /**
   * Reserve a sequence number and return the batch op, plus `applied`, which the caller runs once
   * the batch is committed: counts, quota and reads only ever see committed records.
   */
  put (dest: Buffer, record: Uint8Array, nowMs: number): { op: BatchOp, seq: number, applied: () => void } {
    const seq = this.#nextSeq++
    const hour = hourOf(nowMs)
    const key = dest.toString('hex')
    return {
      seq,
      op: { type: 'put', sublevel: this.#sub, key: Buffer.concat([dest, u64(seq)]), value: Buffer.concat([u32(hour), record]) },
      applied: () => this.#index(key, seq, hour, record.length)
    }
  }

  /** Records of a destination in FIFO order after `afterSeq`, at most `limit`. */
  async read (dest: Buffer, afterSeq: number, limit: number): Promise<QueueRecord[]> {
    const out: QueueRecord[] = []
    if (!this.#dests.has(dest.toString('hex'))) return out
    for await (const [k, v] of this.#sub.iterator({ gt: Buffer.concat([dest, u64(afterSeq)]), lt: Buffer.concat([dest, u64(Number.MAX_SAFE_INTEGER)]), limit })) {
      out.push({ seq: Number(Buffer.from(k as Uint8Array).readBigUInt64BE(32)), record: Buffer.from((v as Uint8Array).subarray(4)) })
    }
    return out
  }

  /** Acknowledge (delete) one record; returns the op, or null if it is not held. */
  ack (dest: Buffer, seq: number): BatchOp | null {
    const h = dest.toString('hex')
    const d = this.#dests.get(h)
    const i = d?.seqs.indexOf(seq) ?? -1
    if (d === undefined || i < 0) return null
    this.#forget(h, d, i)
    return { type: 'del', sublevel: this.#sub, key: Buffer.concat([dest, u64(seq)]) }
  }

  #forget (h: string, d: Dest, i: number): void {
    const size = d.sizes[i]!
    d.seqs.splice(i, 1); d.hours.splice(i, 1); d.sizes.splice(i, 1)
    d.count--; d.bytes -= size
    this.#count--; this.#bytes -= size
    if (d.count === 0) this.#dests.delete(h)
  }

  /** Delete records older than the TTL; returns the ops and how many. */
  expire (nowMs: number): { ops: BatchOp[], expired: number } {
    const limitHour = hourOf(nowMs - this.#ttlMs)
    const ops: BatchOp[] = []
    for (const [h, d] of [...this.#dests]) {
      while (d.count > 0 && d.hours[0]! < limitHour) {
        ops.push({ type: 'del', sublevel: this.#sub, key: Buffer.concat([Buffer.from(h, 'hex'), u64(d.seqs[0]!)]) })
        this.#forget(h, d, 0)
      }
    }
    return { ops, expired: ops.length }
  }

  /** Age in seconds of the oldest record (hour resolution), 0 when empty. */
  oldestAgeSeconds (nowMs: number): number {
    let oldest = Infinity
    for (const d of this.#dests.values()) if (d.hours.length > 0) oldest = Math.min(oldest, d.hours[0]!)
    return oldest === Infinity ? 0 : Math.max(0, (nowMs - oldest * 3_600_000) / 1000)
  }
}
