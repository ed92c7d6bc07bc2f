/**
 * Spool and mailbox ingest: records written through QueueStore in synced group commits
 * of 64 (one LevelDB batch with sync per group, as the relay's round does), beside the floor of
 * the same bytes written as raw synced LevelDB batches of 64 in the same run, interleaved.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BatchOp, commit, openDatabase, sublevel } from '../../daemon/io/db.ts'
import { QueueStore } from '../../daemon/relay/gateway/queue-store.ts'
import type { BenchResult } from './harness.ts'

const GROUP = 64
const SLICE_MS = 400
const ROUNDS = 5

async function rate(f: () => Promise<number>): Promise<number> {
  const end = performance.now() + SLICE_MS
  const t0 = performance.now()
  let n = 0
  while (performance.now() < end) n += await f()
  return n / ((performance.now() - t0) / 1000)
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

async function ingest(kind: 'spool' | 'mailbox', recordBytes: number, destinations: number): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-store-'))
  const db = await openDatabase(join(dir, 'db'))
  try {
    const q = new QueueStore(db, kind, { quota: 1 << 30, ttlMs: 3600_000 })
    const raw = sublevel(db, 'raw')
    const record = Buffer.alloc(recordBytes, 7)
    const dests = Array.from({ length: destinations }, (_, i) => Buffer.alloc(32, i))
    let seq = 0
    const store = async (): Promise<number> => {
      const puts = Array.from({ length: GROUP }, (_, i) => q.put(dests[(seq + i) % destinations]!, record, Date.now()))
      seq += GROUP
      await commit(
        db,
        puts.map(p => p.op)
      )
      for (const p of puts) p.applied()
      return GROUP
    }
    const floor = async (): Promise<number> => {
      const ops: BatchOp[] = Array.from({ length: GROUP }, () => {
        const k = Buffer.alloc(40)
        k.writeUInt32BE(seq++, 36)
        return { type: 'put', sublevel: raw, key: k, value: record }
      })
      await commit(db, ops)
      return GROUP
    }
    const mine: number[] = []
    const base: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      mine.push(await rate(store))
      base.push(await rate(floor))
    }
    const v = median(mine)
    const f = median(base)
    console.log(
      `  ${kind}: ${Math.round(v)} records/s through QueueStore, floor ${Math.round(f)} records/s (raw synced batches of ${GROUP})`
    )
    return {
      name: `store/${kind}-ingest-synced`,
      unit: 'packets/s',
      value: Math.round(v),
      floor: Math.round(f),
      ratio: Number((v / f).toFixed(3)),
      note: `${recordBytes}-byte records, ${destinations} destinations, synced group commit of ${GROUP}; ratio = QueueStore / raw LevelDB`
    }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchStore(): Promise<BenchResult[]> {
  // Spool records: a payload for an ingress (U = 2048); mailbox records: SURB id (16) and a body (P - header = 2080).
  return [await ingest('spool', 2048, 4), await ingest('mailbox', 16 + 2080, 1000)]
}
