/**
 * Durable replay tags. The tags a round admits are written as ONE record per epoch in the round's
 * synced batch, before any packet of the round leaves: key u32 epoch ‖ the round's first tag (32
 * bytes; tags are unique, so keys are), value the round's tags concatenated (32 bytes each). One
 * record per round rather than one per packet keeps the per-packet cost of the commit path off the
 * main thread's heap (the per-tag records made V8 run a full collection every ~200 ms at 3,000
 * packets/s; docs/BENCHMARKS.md). On start the in-memory filter is rebuilt from them, so a packet
 * seen before a crash is still a replay after it. When a mix key is erased its epoch's records
 * are deleted too (`clearBefore`), and tags of erased epochs still staged are not written (`keeps`).
 */
import { ReplayFilter } from '../../mix/index.ts'
import { type BatchOp, type Db, sublevel, type Sub, u32 } from './db.ts'

const TAG = 32

export class ReplayStore {
  readonly #sub: Sub
  #floor = 0
  constructor (db: Db) { this.#sub = sublevel(db, 'replay') }

  /** False for an epoch whose key is erased: its tags are no longer written. */
  keeps (epoch: number): boolean { return epoch >= this.#floor }

  /** Delete the tags of every epoch before `epoch` and stop writing them. */
  async clearBefore (epoch: number): Promise<void> {
    this.#floor = Math.max(this.#floor, epoch)
    await this.#sub.clear({ lt: u32(this.#floor) })
  }

  /** The record of one round's tags of one epoch (tags: 32 bytes each, at least one). */
  putRound (epoch: number, tags: readonly Uint8Array[]): BatchOp {
    const value = Buffer.concat(tags as Uint8Array[], tags.length * TAG)
    return { type: 'put', sublevel: this.#sub, key: Buffer.concat([u32(epoch), value.subarray(0, TAG)]), value }
  }

  /** One op per epoch for the tags of `staged` that still count (epochs not erased). */
  opsFor (staged: ReadonlyArray<{ readonly tag?: Uint8Array, readonly epoch?: number }>): BatchOp[] {
    const byEpoch = new Map<number, Uint8Array[]>()
    for (const s of staged) {
      if (s.tag === undefined || s.epoch === undefined || !this.keeps(s.epoch)) continue
      const l = byEpoch.get(s.epoch)
      if (l === undefined) byEpoch.set(s.epoch, [s.tag]); else l.push(s.tag)
    }
    return [...byEpoch].map(([epoch, tags]) => this.putRound(epoch, tags))
  }

  /** Rebuild the filter of one epoch's key; returns how many tags were loaded. */
  async load (epoch: number, filter: ReplayFilter): Promise<number> {
    let n = 0
    for await (const v of this.#sub.values({ gte: u32(epoch), lt: u32(epoch + 1) })) {
      const b = v as Uint8Array
      for (let i = 0; i + TAG <= b.length; i += TAG) { filter.add(b.subarray(i, i + TAG)); n++ }
    }
    return n
  }

  /** Tags held for one epoch (tests and inspection). */
  async count (epoch: number): Promise<number> {
    let n = 0
    for await (const v of this.#sub.values({ gte: u32(epoch), lt: u32(epoch + 1) })) n += Math.floor((v as Uint8Array).length / TAG)
    return n
  }
}
