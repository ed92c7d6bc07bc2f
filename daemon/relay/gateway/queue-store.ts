/**
 * A durable FIFO per destination with acknowledgement before delete, TTL and a per-destination
 * quota: the exit's spool (destination = ingress id) and the entry's mailboxes (destination =
 * keyed hash of the mailbox id, never the id itself).
 *
 * key   = destination (32) ‖ u64 seq
 * value = u32 hour stored ‖ record
 * Only counts, sizes and times are kept in memory; records are read from LevelDB when sent.
 *
 * Times at rest have hour resolution, so that a seized disk does not date single messages, but ages and expiry use the time in memory:
 * to the millisecond for what this process stored, and for what it loaded at start the latest time
 * the record can have been stored (the end of its hour, or the start of this process if sooner).
 * So ages are exact for new records and never too high for old ones: age alerts never fire early
 * (with the hour alone, 60 s-old data read 1,132 s), and the TTL is never cut short.
 */
import { type BatchOp, type Db, hourOf, type Sub, sublevel, u32, u64 } from '../../io/index.ts'

const HOUR_MS = 3_600_000

interface Dest {
  count: number
  bytes: number
  seqs: number[]
  times: number[]
  sizes: number[]
}

export interface QueueRecord {
  readonly seq: number
  readonly record: Buffer
}

export class QueueStore {
  readonly #sub: Sub
  readonly #dests = new Map<string, Dest>()
  #quota: number
  #ttlMs: number
  #nextSeq = 1
  #count = 0
  #bytes = 0

  constructor(db: Db, name: string, o: { quota: number; ttlMs: number }) {
    this.#sub = sublevel(db, name)
    this.#quota = o.quota
    this.#ttlMs = o.ttlMs
  }

  /**
   * New quota and TTL (a reload). Nothing is deleted at once: a destination over a lower quota
   * takes no more until it is under it, and the next expiry (each round) applies the new TTL.
   */
  setLimits(o: { quota: number; ttlMs: number }): void {
    this.#quota = o.quota
    this.#ttlMs = o.ttlMs
  }

  get count(): number {
    return this.#count
  }
  get bytes(): number {
    return this.#bytes
  }
  /** Destinations holding at least one record. */
  get destinations(): number {
    return this.#dests.size
  }

  /** Load the index at start (`nowMs`: this process's start; a stored record is no younger). */
  async load(nowMs = Date.now()): Promise<void> {
    for await (const [k, v] of this.#sub.iterator()) {
      const key = Buffer.from(k as Uint8Array)
      const seq = Number(key.readBigUInt64BE(32))
      const hour = Buffer.from(v as Uint8Array).readUInt32BE(0)
      this.#index(
        key.subarray(0, 32).toString('hex'),
        seq,
        Math.min((hour + 1) * HOUR_MS, nowMs),
        (v as Uint8Array).length - 4
      )
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1)
    }
  }

  #index(dest: string, seq: number, atMs: number, size: number): void {
    let d = this.#dests.get(dest)
    if (d === undefined) {
      d = { count: 0, bytes: 0, seqs: [], times: [], sizes: [] }
      this.#dests.set(dest, d)
    }
    d.count++
    d.bytes += size
    d.seqs.push(seq)
    d.times.push(atMs)
    d.sizes.push(size)
    this.#count++
    this.#bytes += size
  }

  /** Would one more record fit this destination's quota? */
  hasRoom(dest: Buffer): boolean {
    return (this.#dests.get(dest.toString('hex'))?.count ?? 0) < this.#quota
  }

  /**
   * Reserve a sequence number and return the batch op, plus `applied`, which the caller runs once
   * the batch is committed: counts, quota and reads only ever see committed records.
   */
  put(dest: Buffer, record: Uint8Array, nowMs: number): { op: BatchOp; seq: number; applied: () => void } {
    const seq = this.#nextSeq++
    const hour = hourOf(nowMs)
    const key = dest.toString('hex')
    return {
      seq,
      op: {
        type: 'put',
        sublevel: this.#sub,
        key: Buffer.concat([dest, u64(seq)]),
        value: Buffer.concat([u32(hour), record])
      },
      applied: () => this.#index(key, seq, nowMs, record.length)
    }
  }

  /**
   * Records of a destination in FIFO order after `afterSeq`, at most `limit`. While the database
   * cannot be read (it is being opened again after a failed write) this returns none: the records
   * stay stored and are sent at the next push or pull.
   */
  async read(dest: Buffer, afterSeq: number, limit: number): Promise<QueueRecord[]> {
    const out: QueueRecord[] = []
    if (!this.#dests.has(dest.toString('hex'))) return out
    try {
      for await (const [k, v] of this.#sub.iterator({
        gt: Buffer.concat([dest, u64(afterSeq)]),
        lt: Buffer.concat([dest, u64(Number.MAX_SAFE_INTEGER)]),
        limit
      })) {
        out.push({
          seq: Number(Buffer.from(k as Uint8Array).readBigUInt64BE(32)),
          record: Buffer.from((v as Uint8Array).subarray(4))
        })
      }
    } catch {
      return out
    }
    return out
  }

  /** Acknowledge (delete) one record; returns the op, or null if it is not held. */
  ack(dest: Buffer, seq: number): BatchOp | null {
    const h = dest.toString('hex')
    const d = this.#dests.get(h)
    const i = d?.seqs.indexOf(seq) ?? -1
    if (d === undefined || i < 0) return null
    this.#forget(h, d, i)
    return { type: 'del', sublevel: this.#sub, key: Buffer.concat([dest, u64(seq)]) }
  }

  #forget(h: string, d: Dest, i: number): void {
    const size = d.sizes[i]!
    d.seqs.splice(i, 1)
    d.times.splice(i, 1)
    d.sizes.splice(i, 1)
    d.count--
    d.bytes -= size
    this.#count--
    this.#bytes -= size
    if (d.count === 0) this.#dests.delete(h)
  }

  /** Delete records older than the TTL; returns the ops and how many. */
  expire(nowMs: number): { ops: BatchOp[]; expired: number } {
    const limit = nowMs - this.#ttlMs
    const ops: BatchOp[] = []
    for (const [h, d] of [...this.#dests]) {
      while (d.count > 0 && d.times[0]! < limit) {
        ops.push({ type: 'del', sublevel: this.#sub, key: Buffer.concat([Buffer.from(h, 'hex'), u64(d.seqs[0]!)]) })
        this.#forget(h, d, 0)
      }
    }
    return { ops, expired: ops.length }
  }

  /** Age in whole seconds of the oldest record (a lower bound for records stored before this process started), 0 when empty. */
  oldestAgeSeconds(nowMs: number): number {
    let oldest = Infinity
    for (const d of this.#dests.values()) if (d.times.length > 0) oldest = Math.min(oldest, d.times[0]!)
    return oldest === Infinity ? 0 : Math.max(0, Math.floor((nowMs - oldest) / 1000))
  }
}

/** The spool and mailbox gauges (counts, bytes, oldest ages to the second). */
export function queueGauges(
  m: { spoolPackets: G; spoolBytes: G; spoolOldest: G; mailboxPackets: G; mailboxOldest: G },
  spool: QueueStore,
  mailbox: QueueStore,
  nowMs: number
): void {
  m.spoolPackets.set(spool.count)
  m.spoolBytes.set(spool.bytes)
  m.spoolOldest.set(spool.oldestAgeSeconds(nowMs))
  m.mailboxPackets.set(mailbox.count)
  m.mailboxOldest.set(mailbox.oldestAgeSeconds(nowMs))
}
interface G {
  set: (v: number) => void
}
