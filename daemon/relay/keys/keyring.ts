/**
 * The life of a relay's per-epoch X25519 mix keys (docs/PROTOCOL.md §18.1), start to end, in one
 * place. Each key lives in <dataDir>/keys/mix-<epoch>.key (0600, 32 bytes, never logged):
 * 1. made ahead of its epoch (`makeAhead`: this epoch to KEYS_AHEAD past the next), so that a
 *    descriptor can publish it (epochs.ts signs and publishes the public halves);
 * 2. live (`rotate`): the current epoch's, the previous one's in its grace window, and the next
 *    one's from `maxSkewMs` before it starts;
 * 3. handed over whenever the live set changes: `rotate` gives the live key pairs to the relay,
 *    which builds their replay filters and sends the secrets to the unwrap workers
 *    (`workerKeys`); a worker zeroes each key that leaves its set (`replaceKeys`, worker-keys.ts);
 * 4. retired once the workers have the new set (`retire`): the replay store deletes the key's tags
 *    and stops writing them, then the key is zeroed in memory and its file erased: overwritten
 *    with zeros and synced before it is unlinked, and the directory synced (eraseSecretFile,
 *    daemon/io/secret-file.ts). Overwriting cannot reach copies that a copy-on-write or
 *    journaling file system, or a disk's wear levelling, keeps: docs/OPERATIONS.md says to put
 *    the data directory on encrypted storage.
 * A static network file's one mix key (keys/mix.key, identity.ts) has none of this: it is never
 * retired.
 *
 * Key files are written atomically: a full disk makes `makeAhead` throw RELAY_STORE_FAILED and
 * leaves no file, never an empty one. A file of the wrong size (left by an older version that
 * crashed while writing it) holds no usable key: it is replaced with a new key (and logged,
 * `mix_key_replaced`). That is safe for an epoch key, unlike the identity key: the lost key's
 * packets could not be opened anyway, and a new key has its own replay filter. If a document
 * already lists the lost key, the relay is unlisted for that epoch and back with the next one.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type CryptoSuite, descriptorEpochs, liveKeyEpochs, type NetworkSchedule } from '../../../mix/index.ts'
import {
  checkSecretFile,
  createSecretKey,
  eraseSecretFile,
  errorCode,
  type Logger,
  RelayError,
  readSecretFile
} from '../../io/index.ts'

export { replaceKeys, workerKeys } from './worker-keys.ts'

export interface MixKeyPair {
  readonly publicKey: Buffer
  readonly secretKey: Buffer
}

/** A live key as the relay receives it. */
export interface LiveKey {
  readonly epoch: number
  readonly key: MixKeyPair
}

/**
 * Hands a new live set to the relay: it resolves once the workers hold exactly `live`; the
 * `retired` epochs' keys are erased right after.
 */
export type HandOver = (live: readonly LiveKey[], retired: readonly number[]) => Promise<void>

/** What the replay store does when keys are retired (replay-store.ts). */
export interface ReplayTags {
  /** Delete the tags of every epoch before `epoch`, and stop writing them. */
  clearBefore: (epoch: number) => Promise<void>
}

export interface MixKeysOptions {
  readonly crypto: CryptoSuite
  readonly dataDir: string
  /** How long before its epoch a key is live: the clock skew the network allows. */
  readonly maxSkewMs: number
  readonly log: Logger
  /** Told to delete a retired key's replay tags before its file is erased. */
  readonly replay?: ReplayTags
}

const KEY_BYTES = 32
const NAME = /^mix-(\d+)\.key$/

export class MixKeys {
  readonly #o: MixKeysOptions
  readonly #dir: string
  /** The key pairs read, by epoch: at most the live ones and the KEYS_AHEAD + 2 a descriptor carries; erased as their epochs pass. */
  readonly #loaded = new Map<number, MixKeyPair>()
  /** The epochs whose keys the workers hold, ascending. */
  #live: number[] = []

  constructor(o: MixKeysOptions) {
    this.#o = o
    this.#dir = join(o.dataDir, 'keys')
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
  }

  file(epoch: number): string {
    return join(this.#dir, `mix-${epoch}.key`)
  }

  /** Epochs with a key file, ascending. */
  onDisk(): number[] {
    return readdirSync(this.#dir)
      .map(f => NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(m => Number(m[1]))
      .sort((a, b) => a - b)
  }

  /** The epochs whose keys the workers hold, ascending. */
  get live(): readonly number[] {
    return this.#live
  }

  /** Make the keys a descriptor published during `epoch` carries (see `ensure`). */
  makeAhead(epoch: number): void {
    this.ensure(descriptorEpochs(epoch))
  }

  /**
   * Make the key files of `epochs` that do not exist yet, each written atomically and synced, and
   * replace any of the wrong size (see above); a sound key is never replaced. A file that cannot
   * be read is left for `get` to report.
   */
  ensure(epochs: readonly number[]): void {
    for (const e of epochs) {
      if (this.#loaded.has(e)) continue
      const held = checkSecretFile(this.file(e), KEY_BYTES)
      if (held.kind === 'sound' || held.kind === 'unreadable') continue
      this.#make(e, held.kind === 'wrong-size')
      if (held.kind === 'wrong-size')
        this.#o.log.warn(
          { event: 'mix_key_replaced', epoch: e, bytes: held.size },
          'a damaged mix key file (left by an earlier crash) was replaced with a new key'
        )
    }
  }

  #make(epoch: number, replace: boolean): void {
    try {
      createSecretKey(this.file(epoch), KEY_BYTES, b => this.#o.crypto.randomFill(b), { replace })
    } catch (e) {
      throw RelayError.STORE_FAILED(`cannot write keys/mix-${epoch}.key (${errorCode(e)})`, e)
    }
  }

  /** The key pair of `epoch`, its file made (or a damaged one replaced) first if need be. */
  get(epoch: number): MixKeyPair {
    const hit = this.#loaded.get(epoch)
    if (hit !== undefined) return hit
    this.ensure([epoch])
    const r = readSecretFile(this.file(epoch), KEY_BYTES)
    if (r.kind === 'unreadable') throw r.cause
    if (r.kind === 'missing')
      throw RelayError.KEYS_INVALID(`keys/mix-${epoch}.key is missing (removed while the relay runs)`)
    if (r.kind === 'wrong-size')
      throw RelayError.KEYS_INVALID(`keys/mix-${epoch}.key must hold exactly ${KEY_BYTES} bytes (it holds ${r.size})`)
    const publicKey = Buffer.alloc(KEY_BYTES)
    this.#o.crypto.x25519Base(publicKey, r.bytes)
    const k = { publicKey, secretKey: r.bytes }
    this.#loaded.set(epoch, k)
    return k
  }

  publicHex(epoch: number): string {
    return this.get(epoch).publicKey.toString('hex')
  }

  /**
   * Bring the live set to what `now` calls for, when it changed: hand the new set over, then
   * retire every key before it. Returns the epochs erased. If a step fails, the next call does
   * the whole change again.
   */
  async rotate(s: NetworkSchedule, now: number, handOver: HandOver): Promise<number[]> {
    const live = liveKeyEpochs(s, s.graceMs, this.#o.maxSkewMs, now)
    if (live.join() === this.#live.join()) return []
    const retired = this.#live.filter(x => !live.includes(x))
    await handOver(
      live.map(epoch => ({ epoch, key: this.get(epoch) })),
      retired
    )
    const erased = await this.retire(live[0]!)
    this.#live = live
    return erased
  }

  /**
   * Retire the keys of every epoch before `epoch`: the replay store deletes their tags, then each
   * key is zeroed in memory and its file erased. Only once no worker holds them (`rotate`).
   * Returns the epochs erased.
   */
  async retire(epoch: number): Promise<number[]> {
    await this.#o.replay?.clearBefore(epoch)
    const erased = this.eraseBefore(epoch)
    if (erased.length > 0) this.#o.log.info({ epochs: erased }, 'mix keys erased')
    return erased
  }

  /** Zero and erase the keys of every epoch before `epoch`, in memory and on disk; returns the epochs erased. */
  eraseBefore(epoch: number): number[] {
    const gone = [...new Set([...this.onDisk(), ...this.#loaded.keys()])].filter(e => e < epoch)
    for (const e of gone) {
      this.#loaded.get(e)?.secretKey.fill(0)
      this.#loaded.delete(e)
      eraseSecretFile(this.file(e))
    }
    return gone
  }
}
