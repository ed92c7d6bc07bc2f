/**
 * Per-epoch X25519 mix keys (DESIGN.md §6) in <dataDir>/keys/mix-<epoch>.key (0600, 32 bytes,
 * never logged). Keys are made ahead of their epoch so that a descriptor can publish them, and
 * erased once their grace window is over: the file is overwritten with zeros and synced before it
 * is unlinked (the directory is synced too), and the secret in memory is zeroed.
 * Overwriting cannot reach copies that a copy-on-write or journaling file system, or a disk's
 * wear levelling, keeps; OPERATIONS.md says to put the data directory on encrypted storage.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { CryptoSuite } from '../mix/index.ts'
import { RelayError } from './errors.ts'

export interface MixKeyPair { readonly publicKey: Buffer, readonly secretKey: Buffer }

const NAME = /^mix-(\d+)\.key$/

function syncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

export class EpochKeyring {
  readonly #c: CryptoSuite
  readonly #dir: string
  readonly #loaded = new Map<number, MixKeyPair>()

  constructor (c: CryptoSuite, dataDir: string) {
    this.#c = c
    this.#dir = join(dataDir, 'keys')
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
  }

  file (epoch: number): string { return join(this.#dir, `mix-${epoch}.key`) }

  /** Epochs with a key file, ascending. */
  onDisk (): number[] {
    return readdirSync(this.#dir).map(f => NAME.exec(f)).filter((m): m is RegExpExecArray => m !== null).map(m => Number(m[1])).sort((a, b) => a - b)
  }

  /** Make (and sync) the key files of `epochs` that do not exist yet; existing keys are never replaced. */
  ensure (epochs: readonly number[]): void {
    let made = false
    for (const e of epochs) {
      const p = this.file(e)
      if (existsSync(p)) continue
      const b = Buffer.alloc(32)
      this.#c.randomFill(b)
      const fd = openSync(p, 'wx', 0o600)
      try { writeSync(fd, b); fsyncSync(fd) } finally { closeSync(fd) }
      b.fill(0)
      made = true
    }
    if (made) syncDir(this.#dir)
  }

  get (epoch: number): MixKeyPair {
    const hit = this.#loaded.get(epoch)
    if (hit !== undefined) return hit
    let secretKey: Buffer
    try { secretKey = readFileSync(this.file(epoch)) } catch { throw RelayError.KEYS_INVALID(`keys/mix-${epoch}.key is missing`) }
    if (secretKey.length !== 32) throw RelayError.KEYS_INVALID(`keys/mix-${epoch}.key must hold exactly 32 bytes (it holds ${secretKey.length})`)
    const publicKey = Buffer.alloc(32)
    this.#c.x25519Base(publicKey, secretKey)
    const k = { publicKey, secretKey }
    this.#loaded.set(epoch, k)
    return k
  }

  publicHex (epoch: number): string { return this.get(epoch).publicKey.toString('hex') }

  /** Erase the keys of every epoch before `epoch`, on disk and in memory; returns the epochs erased. */
  eraseBefore (epoch: number): number[] {
    const gone = [...new Set([...this.onDisk(), ...this.#loaded.keys()])].filter(e => e < epoch)
    for (const e of gone) {
      this.#loaded.get(e)?.secretKey.fill(0)
      this.#loaded.delete(e)
      const p = this.file(e)
      if (!existsSync(p)) continue
      const fd = openSync(p, 'r+')
      try { writeSync(fd, Buffer.alloc(32), 0, 32, 0); fsyncSync(fd) } finally { closeSync(fd) }
      unlinkSync(p)
    }
    if (gone.length > 0) syncDir(this.#dir)
    return gone
  }
}
