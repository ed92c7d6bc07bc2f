/**
 * `sealmix inspect`: counts and ages of what a stopped relay holds in its spool and mailboxes,
 * never contents, ids or destinations. LevelDB admits one process: on a running relay this fails
 * with RELAY_STORE_LOCKED, and the same figures are on /metrics (sealmix_spool_*, sealmix_mailbox_*).
 * It never creates a database (a missing one would then look like a fresh one to the relay). At rest
 * records carry only their hour, so a stopped relay's oldest age is a lower bound: the time since
 * the end of the oldest record's hour.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase, RelayError } from '../io/index.ts'
import type { RelayConfig } from './config.ts'
import { QueueStore } from './gateway/queue-store.ts'

export interface QueueSummary {
  readonly packets: number
  readonly bytes: number
  readonly destinations: number
  readonly oldestAgeSeconds: number
}

export async function inspectStore(
  cfg: RelayConfig,
  nowMs: number
): Promise<{ spool: QueueSummary; mailbox: QueueSummary }> {
  const location = join(cfg.dataDir, 'db')
  if (!existsSync(join(location, 'CURRENT')))
    throw RelayError.STORE_FAILED(
      'there is no database in the data directory (db/): the relay has not run yet, or it was removed'
    )
  const db = await openDatabase(location, { createIfMissing: false })
  try {
    const summary = async (name: string, quota: number, ttlMs: number): Promise<QueueSummary> => {
      const q = new QueueStore(db, name, { quota, ttlMs })
      await q.load(nowMs)
      return {
        packets: q.count,
        bytes: q.bytes,
        destinations: q.destinations,
        oldestAgeSeconds: q.oldestAgeSeconds(nowMs)
      }
    }
    return {
      spool: await summary('spool', cfg.spool.maxPacketsPerDestination, cfg.spool.ttlMs),
      mailbox: await summary('mailbox', cfg.mailbox.maxPacketsPerMailbox, cfg.mailbox.ttlMs)
    }
  } finally {
    await db.close()
  }
}
