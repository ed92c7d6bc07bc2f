/**
 * Durable replay tags: key u32 epoch ‖ tag (32), empty value. Tags of a round are written in the
 * round's one synced batch before any packet of the round leaves; on start the in-memory filter is
 * rebuilt from them, so a packet seen before a crash is still a replay after it. When a mix key is
 * erased its epoch's tags are deleted too (`clearBefore`), and tags of erased epochs still staged
 * are not written (`keeps`).
 */
import { ReplayFilter } from '../../mix/index.ts'
import { type BatchOp, type Db, sublevel, type Sub, u32 } from './db.ts'

const EMPTY = new Uint8Array(0)

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

  /** Tags held for one epoch (tests and inspection). */
  async count (epoch: number): Promise<number> {
    let n = 0
    for await (const _ of this.#sub.keys({ gte: u32(epoch), lt: u32(epoch + 1) })) n++
    return n
  }

  put (epoch: number, tag: Uint8Array): BatchOp {
    return { type: 'put', sublevel: this.#sub, key: Buffer.concat([u32(epoch), tag]), value: EMPTY }
  }

  /** Rebuild the filter of one epoch's key; returns how many tags were loaded. */
  async load (epoch: number, filter: ReplayFilter): Promise<number> {
    const gte = u32(epoch)
    const lt = u32(epoch + 1)
    let n = 0
    for await (const k of this.#sub.keys({ gte, lt })) {
      filter.add((k as Uint8Array).subarray(4))
      n++
    }
    return n
  }
}
