/**
 * `sealmix inspect`: counts and ages of what a stopped relay holds in its spool and mailboxes,
 * never contents, ids or destinations. LevelDB admits one process: on a running relay this fails
 * with RELAY_STORE_LOCKED, and the same figures are on /metrics (sealmix_spool_*, sealmix_mailbox_*).
 */
import { join } from 'node:path'
import type { RelayConfig } from './config.ts'
import { openDatabase } from './store/db.ts'
import { QueueStore } from './store/queue-store.ts'

export interface QueueSummary { readonly packets: number, readonly bytes: number, readonly destinations: number, readonly oldestAgeSeconds: number }

export async function inspectStore (cfg: RelayConfig, nowMs: number): Promise<{ spool: QueueSummary, mailbox: QueueSummary }> {
  const db = await openDatabase(join(cfg.dataDir, 'db'))
  try {
    const summary = async (name: string, quota: number, ttlMs: number): Promise<QueueSummary> => {
      const q = new QueueStore(db, name, { quota, ttlMs })
      await q.load()
      return { packets: q.count, bytes: q.bytes, destinations: q.destinations, oldestAgeSeconds: Math.floor(q.oldestAgeSeconds(nowMs)) }
    }
    return {
      spool: await summary('spool', cfg.spool.maxPacketsPerDestination, cfg.spool.ttlMs),
      mailbox: await summary('mailbox', cfg.mailbox.maxPacketsPerMailbox, cfg.mailbox.ttlMs)
    }
  } finally {
    await db.close()
  }
}
