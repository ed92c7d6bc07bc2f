/**
 * Per-epoch X25519 mix keys (docs/PROTOCOL.md §18.1) in <dataDir>/keys/mix-<epoch>.key (0600, 32 bytes,
 * never logged). Keys are made ahead of their epoch so that a descriptor can publish them, and
 * erased once their grace window is over: the file is overwritten with zeros and synced before it
 * is unlinked (the directory is synced too), and the secret in memory is zeroed.
 * Overwriting cannot reach copies that a copy-on-write or journaling file system, or a disk's
 * wear levelling, keeps; OPERATIONS.md says to put the data directory on encrypted storage.
 *
 * Key files are written atomically (store/atomic-file.ts): a full disk makes `ensure` throw
 * RELAY_STORE_FAILED and leaves no file, never an empty one. A file of the wrong size (left by an
 * older version that crashed while writing it) holds no usable key: it is replaced with a new key
 * (`onReplaced` is told). That is safe for an epoch key, unlike the identity key: the lost key's
 * packets could not be opened anyway, and a new key has its own replay filter. If a document
 * already lists the lost key, the relay is unlisted for that epoch and back with the next one.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { CryptoSuite } from '../../../mix/index.ts'
import { RelayError } from '../../io/index.ts'
import { errorCode, syncDir, writeFileAtomic } from '../../io/index.ts'

export interface MixKeyPair { readonly publicKey: Buffer, readonly secretKey: Buffer }

const NAME = /^mix-(\d+)\.key$/

export class EpochKeyring {
  readonly #c: CryptoSuite
  readonly #dir: string
  readonly #loaded = new Map<number, MixKeyPair>()
  readonly #onReplaced: (epoch: number, bytes: number) => void

  constructor (c: CryptoSuite, dataDir: string, onReplaced: (epoch: number, bytes: number) => void = () => {}) {
    this.#c = c
    this.#dir = join(dataDir, 'keys')
    this.#onReplaced = onReplaced
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
  }

  file (epoch: number): string { return join(this.#dir, `mix-${epoch}.key`) }

  /** Epochs with a key file, ascending. */
  onDisk (): number[] {
    return readdirSync(this.#dir).map(f => NAME.exec(f)).filter((m): m is RegExpExecArray => m !== null).map(m => Number(m[1])).sort((a, b) => a - b)
  }

  /**
   * Make the key files of `epochs` that do not exist yet, each written atomically and synced, and
   * replace any of the wrong size (see above); a sound key is never replaced.
   */
  ensure (epochs: readonly number[]): void {
    for (const e of epochs) {
      if (this.#loaded.has(e)) continue
      const p = this.file(e)
      let size = -1
      try { size = statSync(p).size } catch {}
      if (size === 32) continue
      this.#make(e, size >= 0)
      if (size >= 0) this.#onReplaced(e, size)
    }
  }

  #make (epoch: number, replace: boolean): void {
    const b = Buffer.alloc(32)
    this.#c.randomFill(b)
    try {
      writeFileAtomic(this.file(epoch), b, { mode: 0o600, exclusive: !replace })
    } catch (e) {
      throw RelayError.STORE_FAILED(`cannot write keys/mix-${epoch}.key (${errorCode(e)})`, e)
    } finally {
      b.fill(0)
    }
  }

  /** The key pair of `epoch`, its file made (or a damaged one replaced) first if need be. */
  get (epoch: number): MixKeyPair {
    const hit = this.#loaded.get(epoch)
    if (hit !== undefined) return hit
    this.ensure([epoch])
    const secretKey = readFileSync(this.file(epoch))
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
      // Over what the file holds, no further: a damaged short file must not need a new block on a full disk.
      try { const n = Math.min(32, statSync(p).size); writeSync(fd, Buffer.alloc(32), 0, n, 0); fsyncSync(fd) } finally { closeSync(fd) }
      unlinkSync(p)
    }
    if (gone.length > 0) syncDir(this.#dir)
    return gone
  }
}
