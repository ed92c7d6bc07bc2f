/**
 * `sealmix repair`, on a stopped relay whose start was refused with RELAY_STORE_CORRUPT. It cannot
 * bring back what the database lost; it says what that is and makes the relay safe to run:
 * - it opens the database (LevelDB's own repair if it cannot be opened; a new empty one if db/ is
 *   missing) and counts what it holds against keys/store.state;
 * - each epoch that holds fewer replay tags than were committed has incomplete replay protection:
 *   the fingerprint of its mix key goes into the state file, and the relay refuses every packet
 *   for that key (fail closed: a packet forwarded before the loss must not be forwarded again).
 *   An epoch key leaves service by itself after its grace window; a static network file's key
 *   never does, so the operator must make a new one;
 * - the counts are rebuilt from what the database holds, so that the relay starts.
 * With no sound state file there is nothing to count against: every mix key on disk is refused.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import type { CryptoSuite } from '../../mix/index.ts'
import { type Db, keyFingerprint, openDatabase, RelayError, STATE_FILE, StoreStateFile } from '../io/index.ts'
import type { RelayConfig } from './config.ts'
import { scanDatabase, shortEpochs } from './keys/replay-store.ts'

export interface RepairReport {
  /** 'opened', 'repaired' (LevelDB's repair ran), or 'created' (db/ was missing). */
  readonly database: 'opened' | 'repaired' | 'created'
  /** keys/store.state as found. */
  readonly state: 'sound' | 'missing' | 'damaged'
  readonly rounds: { readonly found: number; readonly committed: number | null }
  /** Epochs whose replay protection is incomplete; `refused`: its key is on disk and now refused (false: already erased). */
  readonly incomplete: ReadonlyArray<{
    readonly epoch: number
    readonly found: number
    readonly committed: number | null
    readonly refused: boolean
  }>
  /** Mix keys on disk whose packets the relay refuses from now on. */
  readonly refusedKeys: number
  /** What happened and what to do, for a person. */
  readonly lines: readonly string[]
}

const MIX = /^mix-(\d+)\.key$/

/** Fingerprints of the mix keys on disk, by epoch (a static mix.key is epoch 0). */
function mixKeysOnDisk(c: CryptoSuite, keysDir: string, staticKey: boolean): Map<number, string> {
  const out = new Map<number, string>()
  const add = (epoch: number, file: string): void => {
    const secret = readFileSync(join(keysDir, file))
    if (secret.length !== 32) return
    const pub = Buffer.alloc(32)
    c.x25519Base(pub, secret)
    secret.fill(0)
    out.set(epoch, keyFingerprint(pub))
  }
  if (!existsSync(keysDir)) return out
  if (staticKey) {
    if (existsSync(join(keysDir, 'mix.key'))) add(0, 'mix.key')
    return out
  }
  for (const f of readdirSync(keysDir)) {
    const m = MIX.exec(f)
    if (m !== null) add(Number(m[1]), f)
  }
  return out
}

export async function repairStore(c: CryptoSuite, cfg: RelayConfig): Promise<RepairReport> {
  const keysDir = join(cfg.dataDir, 'keys')
  if (!existsSync(keysDir))
    throw RelayError.KEYS_INVALID('there is no keys/ directory in the data directory: nothing to repair')
  const statePath = join(keysDir, STATE_FILE)
  const read = StoreStateFile.read(statePath)
  const location = join(cfg.dataDir, 'db')
  let database: RepairReport['database'] = existsSync(join(location, 'CURRENT')) ? 'opened' : 'created'
  let db: Db
  try {
    db = await openDatabase(location, { createIfMissing: true })
  } catch (e) {
    if (e instanceof RelayError && e.code === 'RELAY_STORE_LOCKED') throw e
    // LevelDB's RepairDB: keeps every record it can still read.
    await (Level as unknown as { repair: (l: string) => Promise<void> }).repair(location)
    db = await openDatabase(location, { createIfMissing: false })
    database = 'repaired'
  }
  try {
    const found = await scanDatabase(db)
    const staticKey = cfg.network !== undefined
    const keys = mixKeysOnDisk(c, keysDir, staticKey)
    const want = read === null || read === 'damaged' ? null : read.data
    const short =
      want === null
        ? read === 'damaged'
          ? [...keys.keys()].map(e => [e, found.counts.get(e) ?? 0, null] as const)
          : []
        : shortEpochs(found.counts, want.counts).map(([e, f, n]) => [e, f, n] as const)
    const keyFps = new Set(keys.values())
    const refused = new Set((want?.refused ?? []).filter(fp => keyFps.has(fp)))
    const incomplete = short.map(([epoch, f, n]) => {
      const fp = keys.get(epoch)
      if (fp !== undefined) refused.add(fp)
      return { epoch, found: f, committed: n, refused: fp !== undefined }
    })
    StoreStateFile.create(statePath, { commits: found.commits, counts: found.counts, refused: [...refused] })

    const lines: string[] = []
    lines.push(
      database === 'created'
        ? 'database: db/ was missing; a new, empty one was made. Everything it held is gone: replay tags, spool and mailboxes.'
        : database === 'repaired'
          ? "database: it could not be opened; LevelDB's repair kept every record it could still read."
          : 'database: opened.'
    )
    if (read === 'damaged')
      lines.push(
        `keys/${STATE_FILE} was damaged: what was committed is unknown, so every mix key on disk is treated as having lost replay tags.`
      )
    if (read === null)
      lines.push(
        `keys/${STATE_FILE} was missing: there is nothing to count against; the counts are recorded from now on.`
      )
    if (want !== null && found.commits < want.commits) {
      lines.push(
        `rounds: the database holds ${found.commits} of the ${want.commits} mixing rounds committed. What the others wrote is lost: replay tags (below), spool and mailbox records, and acknowledgements (those deliveries may be sent again; ingresses and clients drop duplicates).`
      )
    }
    for (const i of incomplete) {
      const of = i.committed === null ? '' : ` of the ${i.committed} committed`
      lines.push(
        `epoch ${i.epoch}: ${i.found} replay tags${of}: replay protection of its mix key is incomplete. ${i.refused ? 'The relay refuses every packet for that key from now on (dropped as replay_full), and is not ready while the key is live.' : 'Its key is already erased: nothing to refuse.'}`
      )
    }
    if (incomplete.some(i => i.refused)) {
      lines.push(
        staticKey
          ? "This relay uses a static network file, whose mix key never changes: it forwards nothing until it has a new one. Stop it, delete keys/mix.key, run 'sealmix keygen' for it, sign a network file that lists the new key, and give it to every relay, ingress and client of the network, restarting them (each reads it only at start)."
          : "This relay follows directory authorities: each refused key leaves service at the end of its epoch's grace window, and the relay takes packets again with its next epoch's key."
      )
    }
    if (incomplete.length === 0 && (want === null || found.commits >= want.commits)) {
      lines.push(
        refused.size > 0
          ? `replay protection: nothing more is lost; ${refused.size} mix key(s) refused by an earlier repair stay refused.`
          : 'replay protection: every replay tag committed is in the database.'
      )
    }
    lines.push(`keys/${STATE_FILE} rewritten from what the database holds: the relay can start.`)
    return {
      database,
      state: read === null ? 'missing' : read === 'damaged' ? 'damaged' : 'sound',
      rounds: { found: found.commits, committed: want?.commits ?? null },
      incomplete,
      refusedKeys: refused.size,
      lines
    }
  } finally {
    await db.close()
  }
}
