/**
 * keys/store.state: what the relay knows it committed to its database, kept OUTSIDE the database so
 * that a database that lost writes can be told from one that never had them. LevelDB drops the
 * tail of a truncated log without a word, and skips damaged records with only a line in db/LOG
 * (classic-level does not expose paranoid_checks), so the database cannot vouch for itself.
 *
 * It holds: how many rounds were committed, how many replay tags each epoch holds, and the
 * fingerprints of mix keys whose replay protection `sealmix repair` found incomplete (the relay
 * refuses their packets). Its presence says that this relay has run: a missing database then is
 * a lost one, not a first start.
 *
 * Written after every committed round, so it is cheap and never synced on that path: two slots of
 * SLOT bytes, each with a generation and a SHA-256, written alternately in place (no new blocks, so
 * a full disk does not stop it). A process killed at any point leaves the previous slot intact; a
 * power cut can leave it older than the database, never newer (the database is synced first), so
 * the check "the database holds at least what the state says" never fails on a sound database.
 * The first write (and repair's) is a whole atomic file, synced.
 */
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs'
import { writeFileAtomic } from './atomic-file.ts'

export const STATE_FILE = 'store.state'
const SLOT = 1024
const MAGIC = Buffer.from('SMS1')
const MAX_COUNTS = 64
const MAX_REFUSED = 16
const FP = 8

export interface StoreStateData {
  /** Rounds committed (the database's own counter must be at least this). */
  commits: number
  /** Replay tags held per epoch (the database must hold at least these). */
  counts: Map<number, number>
  /** Hex fingerprints of mix keys whose packets are refused (replay protection incomplete). */
  refused: string[]
}

/** The fingerprint of a mix public key as the state file keeps it (not secret). */
export function keyFingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest().subarray(0, FP).toString('hex')
}

function encode(gen: number, d: StoreStateData): Buffer {
  const b = Buffer.alloc(SLOT)
  MAGIC.copy(b, 0)
  b.writeBigUInt64BE(BigInt(gen), 4)
  b.writeBigUInt64BE(BigInt(d.commits), 12)
  const counts = [...d.counts].sort((x, y) => x[0] - y[0]).slice(-MAX_COUNTS)
  const refused = d.refused.slice(-MAX_REFUSED)
  b.writeUInt16BE(counts.length, 20)
  b.writeUInt16BE(refused.length, 22)
  let o = 24
  for (const [e, n] of counts) {
    b.writeUInt32BE(e, o)
    b.writeBigUInt64BE(BigInt(n), o + 4)
    o += 12
  }
  for (const r of refused) {
    Buffer.from(r, 'hex').copy(b, o)
    o += FP
  }
  createHash('sha256')
    .update(b.subarray(0, SLOT - 32))
    .digest()
    .copy(b, SLOT - 32)
  return b
}

function decode(b: Buffer): { gen: number; data: StoreStateData } | null {
  if (b.length < SLOT || !b.subarray(0, 4).equals(MAGIC)) return null
  if (
    !createHash('sha256')
      .update(b.subarray(0, SLOT - 32))
      .digest()
      .equals(b.subarray(SLOT - 32, SLOT))
  )
    return null
  const nCounts = b.readUInt16BE(20)
  const nRefused = b.readUInt16BE(22)
  if (nCounts > MAX_COUNTS || nRefused > MAX_REFUSED) return null
  const counts = new Map<number, number>()
  let o = 24
  for (let i = 0; i < nCounts; i++) {
    counts.set(b.readUInt32BE(o), Number(b.readBigUInt64BE(o + 4)))
    o += 12
  }
  const refused: string[] = []
  for (let i = 0; i < nRefused; i++) {
    refused.push(b.subarray(o, o + FP).toString('hex'))
    o += FP
  }
  return { gen: Number(b.readBigUInt64BE(4)), data: { commits: Number(b.readBigUInt64BE(12)), counts, refused } }
}

export class StoreStateFile {
  readonly path: string
  #gen: number

  private constructor(path: string, gen: number) {
    this.path = path
    this.#gen = gen
  }

  /** The newest sound slot; null when there is no file; 'damaged' when no slot is sound. */
  static read(path: string): { file: StoreStateFile; data: StoreStateData } | null | 'damaged' {
    if (!existsSync(path)) return null
    const b = readFileSync(path)
    const slots = [decode(b.subarray(0, SLOT)), decode(b.subarray(SLOT, 2 * SLOT))].filter(s => s !== null)
    if (slots.length === 0) return 'damaged'
    const best = slots.reduce((x, y) => (y.gen > x.gen ? y : x))
    return { file: new StoreStateFile(path, best.gen), data: best.data }
  }

  /** Write a whole new file (both slots), atomically and synced. */
  static create(path: string, data: StoreStateData): StoreStateFile {
    writeFileAtomic(path, Buffer.concat([encode(0, data), encode(1, data)]))
    return new StoreStateFile(path, 1)
  }

  /** Overwrite the older slot in place (not synced: see above). */
  write(data: StoreStateData): void {
    const gen = this.#gen + 1
    const fd = openSync(this.path, 'r+')
    try {
      writeSync(fd, encode(gen, data), 0, SLOT, (gen % 2) * SLOT)
    } finally {
      closeSync(fd)
    }
    this.#gen = gen
  }
}
