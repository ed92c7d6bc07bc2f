/**
 * One LevelDB database per relay (<dataDir>/db), sublevels with fixed-width binary keys
 * (docs/OPERATIONS.md, "Storage and what survives a crash"). A second process on the same data directory fails at once with
 * RELAY_STORE_LOCKED, the LevelDB lock error kept as `cause`. The data directory's format
 * (data-format.ts) is checked before the database is opened: every relay command that reads or
 * writes it (run, inspect, repair) comes through here.
 */
import { dirname } from 'node:path'
import { Level } from 'level'
import { ensureDataFormat } from './data-format.ts'
import { RelayError } from './errors.ts'

export type Db = Level<Uint8Array, Uint8Array>
export type Sub = ReturnType<Db['sublevel']> & { readonly prefix: string }
export type BatchOp =
  | { type: 'put'; sublevel: Sub; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; sublevel: Sub; key: Uint8Array }

export const ENC = { keyEncoding: 'view', valueEncoding: 'view' } as const

/**
 * Open (by default creating) the database. classic-level 3 exposes no paranoid_checks: LevelDB
 * drops a damaged or truncated log tail on open without an error, so the relay checks what it
 * finds against keys/store.state (replay-store.ts).
 */
export async function openDatabase(location: string, o: { createIfMissing?: boolean } = {}): Promise<Db> {
  // A new data directory gets the current format with its new database; one in another format is refused (DataError).
  ensureDataFormat(dirname(location), { create: o.createIfMissing ?? true })
  return await openUnchecked(location, o)
}

/**
 * Open without the format check: for `sealmix migrate` only, which changes that format and holds
 * the database open meanwhile, so that no relay runs on it.
 */
export async function openUnchecked(location: string, o: { createIfMissing?: boolean } = {}): Promise<Db> {
  const db = new Level<Uint8Array, Uint8Array>(location, { ...ENC, createIfMissing: o.createIfMissing ?? true })
  try {
    await db.open()
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') throw RelayError.STORE_LOCKED(e)
    throw RelayError.STORE_FAILED('cannot open the database in the data directory', e)
  }
  return db
}

/** Every sublevel made of a database, so that `reopen` can open them again. */
const SUBS = new WeakMap<Db, Set<Sub>>()

export function sublevel(db: Db, name: string): Sub {
  const s = db.sublevel<Uint8Array, Uint8Array>(name, ENC) as unknown as Sub
  let set = SUBS.get(db)
  if (set === undefined) {
    set = new Set()
    SUBS.set(db, set)
  }
  set.add(s)
  return s
}

/**
 * Close and open the database again, and its sublevels. After a failed write LevelDB may refuse
 * every later write (a failed sync or compaction is sticky) and its log may end in a torn record:
 * only a new open recovers the log (dropping the torn, never-acknowledged record) and starts a
 * fresh one. Throws, leaving the database closed, when it cannot be opened (a disk still full).
 */
export async function reopen(db: Db): Promise<void> {
  if (db.status === 'open') await db.close()
  await db.open({ createIfMissing: false })
  for (const s of SUBS.get(db) ?? []) await (s as unknown as { open: () => Promise<void> }).open()
}

/** One synced, atomic write: the only way the packet path writes. */
export async function commit(db: Db, ops: BatchOp[]): Promise<void> {
  if (ops.length === 0) return
  await db.batch(ops as never, { sync: true })
}

export const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
/** Hours since the epoch: timestamps at rest have hour resolution, so that a seized disk does not date single messages. */
export const hourOf = (ms: number): number => Math.floor(ms / 3_600_000)
