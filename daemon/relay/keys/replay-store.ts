/**
 * Durable replay tags. The tags a round admits are written as ONE record per epoch in the round's
 * synced batch, before any packet of the round leaves: key u32 epoch ‖ the round's first tag (32
 * bytes; tags are unique, so keys are), value the round's tags concatenated (32 bytes each). One
 * record per round rather than one per packet keeps the per-packet cost of the commit path off the
 * main thread's heap (the per-tag records made V8 run a full collection every ~200 ms at 3,000
 * packets/s; docs/BENCHMARKS.md). On start the in-memory filter is rebuilt from them, so a packet
 * seen before a crash is still a replay after it. When a mix key is erased its epoch's records
 * are deleted too (`clearBefore`), and tags of erased epochs still staged are not written (`keeps`).
 *
 * Every commit of the packet path goes through `commit` here, which also
 * - counts rounds (a counter in the same batch) and tags per epoch, and records both in
 *   keys/store.state (state-file.ts) once the batch is durable. `open` refuses to start when the
 *   database holds less than that (a truncated or damaged log: LevelDB drops it silently), or is
 *   missing though the state file says this relay has run; `sealmix repair` (repair.ts) rebuilds
 *   the counts and names the keys whose replay protection is incomplete, whose packets the relay
 *   then refuses (`filterFor`): never forward with a filter that lost tags;
 * - refuses to write when the disk is nearly full (LevelDB must never meet ENOSPC in the middle of
 *   a log record), and after a failed write opens the database again before the next one (a
 *   failed sync or compaction makes LevelDB refuse every later write until then).
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ReplayFilter } from '../../../mix/index.ts'
import type { Health } from '../../io/index.ts'
import {
  type BatchOp,
  commit,
  type Db,
  ENC,
  ensureDataFormat,
  keyFingerprint,
  openDatabase,
  RelayError,
  reopen,
  STATE_FILE,
  type StoreStateData,
  StoreStateFile,
  type Sub,
  sublevel,
  u32,
  u64
} from '../../io/index.ts'

const TAG = 32
const COMMITS = Buffer.from('commits')
/** Free space a commit leaves untouched, beyond its own bytes. */
const RESERVE_BYTES = 1 << 20
/** After a failed write, how often to try opening the database again. */
const RECOVER_EVERY_MS = 1000

/** The filter of a key whose replay protection is incomplete: always full, so every packet for the key is refused (`replay_full`). */
export class RefusingFilter extends ReplayFilter {
  constructor() {
    super(1, 1e-3)
  }
  override get full(): boolean {
    return true
  }
}

/** What a database holds: its round counter and its replay tags per epoch. */
export async function scanDatabase(db: Db): Promise<{ commits: number; counts: Map<number, number> }> {
  const c = await db.sublevel<Uint8Array, Uint8Array>('meta', ENC).get(COMMITS)
  const counts = new Map<number, number>()
  for await (const [k, v] of db.sublevel<Uint8Array, Uint8Array>('replay', ENC).iterator()) {
    const e = Buffer.from(k as Uint8Array).readUInt32BE(0)
    counts.set(e, (counts.get(e) ?? 0) + Math.floor((v as Uint8Array).length / TAG))
  }
  return { commits: c === undefined ? 0 : Number(Buffer.from(c).readBigUInt64BE(0)), counts }
}

/** The epochs that hold fewer tags than `want`: [epoch, found, wanted]. */
export function shortEpochs(found: Map<number, number>, want: Map<number, number>): Array<[number, number, number]> {
  return [...want].filter(([e, n]) => (found.get(e) ?? 0) < n).map(([e, n]) => [e, found.get(e) ?? 0, n])
}

function lossText(short: Array<[number, number, number]>, commits: number, committed: number): string {
  const parts: string[] = []
  if (short.length > 0)
    parts.push(
      short
        .slice(0, 4)
        .map(([e, f, n]) => `epoch ${e} holds ${f} of the ${n} replay tags committed`)
        .join(', ') + (short.length > 4 ? ', ...' : '')
    )
  if (commits < committed) parts.push(`it holds ${commits} of the ${committed} mixing rounds committed`)
  return `the database lost committed writes (a truncated or damaged log): ${parts.join('; ')}`
}

export class ReplayStore {
  readonly db: Db
  readonly #sub: Sub
  readonly #meta: Sub
  #floor = 0
  #commits = 0
  readonly #counts = new Map<number, number>()
  /** The epoch and tag count of each op `putRound` made, counted once the op is committed. */
  readonly #pending = new WeakMap<BatchOp, { epoch: number; n: number }>()
  #state: StoreStateFile | null
  #refused: string[] = []
  /** Live epochs whose key is refused. */
  readonly #refusing = new Set<number>()
  readonly #health: Health | undefined
  /** The failed write that broke the database handle; it is opened again before the next write. */
  #broken: unknown = null
  #nextRecover = 0
  #lost: string | null = null
  #clearPending = false
  /** The last commit failed. */
  #failed = false

  constructor(db: Db, o: { state?: StoreStateFile | null; health?: Health } = {}) {
    this.db = db
    this.#sub = sublevel(db, 'replay')
    this.#meta = sublevel(db, 'meta')
    this.#state = o.state ?? null
    this.#health = o.health
  }

  /**
   * Open `<dataDir>/db` and check it against keys/store.state: RELAY_STORE_CORRUPT when the
   * database is missing though the relay has run, or holds fewer rounds or tags than it committed.
   */
  static async open(dataDir: string, health?: Health): Promise<ReplayStore> {
    // Before anything below reads the directory: data in another format is refused as such, not as a lost database.
    ensureDataFormat(dataDir, { create: false })
    const statePath = join(dataDir, 'keys', STATE_FILE)
    const read = StoreStateFile.read(statePath)
    if (read === 'damaged')
      throw RelayError.STORE_CORRUPT(
        `keys/${STATE_FILE} is damaged (neither of its copies is sound), so the database cannot be checked`
      )
    const location = join(dataDir, 'db')
    if (read !== null && !existsSync(join(location, 'CURRENT'))) {
      throw RelayError.STORE_CORRUPT(
        `the database (db/ in the data directory) is missing, but keys/${STATE_FILE} says this relay has run: its replay tags, spool and mailboxes are gone`
      )
    }
    const db = await openDatabase(location, { createIfMissing: read === null })
    const store = new ReplayStore(db, { state: read === null ? null : read.file, health })
    try {
      const found = await scanDatabase(db)
      store.#commits = found.commits
      for (const [e, n] of found.counts) store.#counts.set(e, n)
      if (read === null) {
        // A first start, or a data directory from before store.state: from now on this is the reference.
        if (existsSync(dirname(statePath))) store.#state = StoreStateFile.create(statePath, store.#data())
      } else {
        const short = shortEpochs(found.counts, read.data.counts)
        if (short.length > 0 || found.commits < read.data.commits)
          throw RelayError.STORE_CORRUPT(lossText(short, found.commits, read.data.commits))
        store.#refused = read.data.refused
        // Damaged log records that held no replay tag (only acknowledgements or expiries): nothing
        // a replay could use, but deliveries acknowledged in them may be sent again.
        const log = join(location, 'LOG')
        if (existsSync(log) && /dropping \d+ bytes/.test(readFileSync(log, 'utf8'))) {
          health?.log.warn(
            { event: 'store_log_damaged' },
            'LevelDB skipped damaged records of its log while opening; every replay tag committed is there, but acknowledgements in those records are lost and their deliveries may be sent again'
          )
        }
      }
    } catch (e) {
      await db.close()
      throw e
    }
    return store
  }

  #data(): StoreStateData {
    return {
      commits: this.#commits,
      counts: new Map([...this.#counts].filter(([e]) => e >= this.#floor)),
      refused: this.#refused
    }
  }

  /** Record what is committed in keys/store.state; false when that failed (it then says less than the database holds, which is safe). */
  #saveState(): boolean {
    if (this.#state === null) return true
    try {
      this.#state.write(this.#data())
      return true
    } catch {
      return false
    }
  }

  /** False for an epoch whose key is erased: its tags are no longer written. */
  keeps(epoch: number): boolean {
    return epoch >= this.#floor
  }

  /**
   * Delete the tags of every epoch before `epoch` and stop writing them. The state file forgets
   * them first; if the database cannot delete them now (a full disk), that is retried after the
   * next commit: key erasure never waits for it (tags mean nothing without their key).
   */
  async clearBefore(epoch: number): Promise<void> {
    this.#floor = Math.max(this.#floor, epoch)
    for (const e of [...this.#refusing]) if (e < this.#floor) this.#refusing.delete(e)
    this.#reportRefusing()
    const gone = [...this.#counts.keys()].filter(e => e < this.#floor)
    for (const e of gone) this.#counts.delete(e)
    if (gone.length > 0 && !this.#saveState()) {
      this.#clearPending = true
      return
    }
    await this.#clear()
  }

  /** A write like any other: not on a nearly full disk, and a failure means the database is opened again before the next write. */
  async #clear(): Promise<void> {
    this.#clearPending = true
    if (this.#broken !== null) return
    try {
      this.#checkSpace([])
    } catch {
      return
    }
    try {
      await this.#sub.clear({ lt: u32(this.#floor) })
      this.#clearPending = false
    } catch (e) {
      this.#broken = e
    }
  }

  /** The record of one round's tags of one epoch (tags: 32 bytes each, at least one). */
  putRound(epoch: number, tags: readonly Uint8Array[]): BatchOp {
    const value = Buffer.concat(tags as Uint8Array[], tags.length * TAG)
    const op: BatchOp = {
      type: 'put',
      sublevel: this.#sub,
      key: Buffer.concat([u32(epoch), value.subarray(0, TAG)]),
      value
    }
    this.#pending.set(op, { epoch, n: tags.length })
    return op
  }

  /** One op per epoch for the tags of `staged` that still count (epochs not erased). */
  opsFor(staged: ReadonlyArray<{ readonly tag?: Uint8Array; readonly epoch?: number }>): BatchOp[] {
    const byEpoch = new Map<number, Uint8Array[]>()
    for (const s of staged) {
      if (s.tag === undefined || s.epoch === undefined || !this.keeps(s.epoch)) continue
      const l = byEpoch.get(s.epoch)
      if (l === undefined) byEpoch.set(s.epoch, [s.tag])
      else l.push(s.tag)
    }
    return [...byEpoch].map(([epoch, tags]) => this.putRound(epoch, tags))
  }

  /**
   * Write `ops` in one synced batch with the round counter, then record the counts. Throws (and
   * writes nothing) when the disk is nearly full or the database cannot be written; after a
   * failed write the database is opened again, at most once a second, before anything else is
   * written. With no ops and nothing to recover, nothing is written.
   */
  async commit(ops: BatchOp[]): Promise<void> {
    try {
      await this.#commit(ops)
      this.#failed = false
    } catch (e) {
      this.#failed = true
      throw e
    }
  }

  async #commit(ops: BatchOp[]): Promise<void> {
    if (this.#lost !== null) throw RelayError.STORE_CORRUPT(this.#lost)
    if (this.#broken !== null) await this.#recover()
    // An empty round after a failed one still checks the disk, so that it does not report the store well too soon.
    if (ops.length === 0 && !this.#failed) return
    this.#checkSpace(ops)
    if (ops.length === 0) return
    const n = this.#commits + 1
    try {
      await commit(this.db, [...ops, { type: 'put', sublevel: this.#meta, key: COMMITS, value: u64(n) }])
    } catch (e) {
      this.#broken = e
      throw e
    }
    this.#commits = n
    for (const op of ops) {
      const p = this.#pending.get(op)
      if (p !== undefined && p.epoch >= this.#floor) this.#counts.set(p.epoch, (this.#counts.get(p.epoch) ?? 0) + p.n)
    }
    this.#saveState()
    if (this.#clearPending) await this.#clear()
  }

  #checkSpace(ops: readonly BatchOp[]): void {
    let bytes = 0
    for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0) + 16
    let free: number
    try {
      const s = statfsSync(this.db.location)
      free = s.bavail * s.bsize
    } catch {
      return
    }
    if (free < bytes + RESERVE_BYTES)
      throw Object.assign(new Error('the disk that holds the database is full'), { code: 'ENOSPC' })
  }

  async #recover(): Promise<void> {
    const now = Date.now()
    if (now < this.#nextRecover) throw this.#broken
    this.#nextRecover = now + RECOVER_EVERY_MS
    this.#checkSpace([])
    await reopen(this.db)
    const found = await scanDatabase(this.db)
    const short = shortEpochs(found.counts, new Map([...this.#counts].filter(([e]) => e >= this.#floor)))
    if (found.commits < this.#commits || short.length > 0) {
      this.#lost = lossText(short, found.commits, this.#commits)
      throw RelayError.STORE_CORRUPT(this.#lost)
    }
    this.#broken = null
  }

  /** A filter for the key of `epoch`: empty, or refusing when repair found the key's replay protection incomplete. */
  filterFor(epoch: number, publicKey: Uint8Array, capacity: number, falsePositiveRate: number): ReplayFilter {
    if (!this.#refused.includes(keyFingerprint(publicKey))) return new ReplayFilter(capacity, falsePositiveRate)
    this.#refusing.add(epoch)
    this.#reportRefusing()
    return new RefusingFilter()
  }

  /** Live epochs whose key is refused. */
  get refusing(): number[] {
    return [...this.#refusing].sort((a, b) => a - b)
  }

  #reportRefusing(): void {
    if (this.#refusing.size === 0) this.#health?.ok('replay')
    else if (!(this.#health?.failing('replay') ?? true))
      this.#health?.fail('replay', Object.assign(new Error(), { code: 'REPLAY_INCOMPLETE' }))
  }

  /** Rebuild the filter of one epoch's key; returns how many tags were loaded. */
  async load(epoch: number, filter: ReplayFilter): Promise<number> {
    if (filter instanceof RefusingFilter) return 0
    let n = 0
    for await (const v of this.#sub.values({ gte: u32(epoch), lt: u32(epoch + 1) })) {
      const b = v as Uint8Array
      for (let i = 0; i + TAG <= b.length; i += TAG) {
        filter.add(b.subarray(i, i + TAG))
        n++
      }
    }
    return n
  }

  /** Tags held for one epoch (tests and inspection). */
  async count(epoch: number): Promise<number> {
    let n = 0
    for await (const v of this.#sub.values({ gte: u32(epoch), lt: u32(epoch + 1) }))
      n += Math.floor((v as Uint8Array).length / TAG)
    return n
  }
}
