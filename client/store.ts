/**
 * ClientStore: the SDK's state that must survive a restart or a browser reload, in a `level`
 * database: LevelDB (classic-level) in Node, IndexedDB (browser-level) in a browser, through the
 * same import. So this module imports no `node:` module and uses only the level API.
 *
 * open() reads every record into a snapshot, which the one SealmixClient made with the store takes
 * at construction. From then on the client writes through: each change puts or deletes one record
 * in a queue (at most one operation per record), and the queue is written as one atomic batch
 * FLUSH_DELAY_MS later, or at once by flush(). What one step of the client changes (a fragment
 * marked sent and the SURB for its ack) is in one batch, so a crash keeps both or neither.
 *
 * Records. Every value is a random 24-byte nonce ‖ XChaCha20-Poly1305 of the record under a subkey
 * of the storage key, with the record's database key as associated data (a value moved to another
 * key does not open). A key is the record's kind and a keyed hash of its id, so no message id, SURB
 * id, room id or envelope hash is at rest in clear:
 *   v          the format version (CLIENT_STORE_VERSION)
 *   m/NAME     an outbox message: id, ingress id, createdMs, fragment count
 *   f/NAME     one of its fragments: index, attempts, acked, due time, bytes
 *   u/NAME     a message waiting for an ingress of its server: id, server, sinceMs, request bytes
 *   s/NAME     an ack SURB: its id, decryption token, message id and fragment index, createdMs
 *   r/NAME     a room key: room id, server, key id, seed, rotation proof, block flag
 *   o/NAME     the hash of an envelope opened lately
 * Not hidden: how many records of each kind there are, their sizes, and when they were written.
 *
 * A record that does not open (the wrong storage key, or damaged data), or that is not what this
 * format says, makes open() fail with CLIENT_STORE_CORRUPT, and an unknown format version with
 * CLIENT_STORE_VERSION: the store refuses rather than forgets, because a forgotten SURB token is
 * an ack lost and a message sent again, and a forgotten opened-envelope hash is a message shown
 * twice (docs/DECISIONS.md). An app that chooses to start afresh deletes the store itself.
 * Not detected: a record deleted, or the whole store rolled back to an older copy.
 */
import { Level } from 'level'
import { type CryptoSuite, MAX_FRAGMENTS } from '../mix/index.ts'
import { ClientError } from './errors.ts'
import type { OutFragmentRecord, OutMessageRecord } from './outbox.ts'
import type { RoomKeyRecord } from './rooms.ts'
import type { SurbRecord, SurbUse } from './surbs.ts'

/** The format this SDK writes and reads; the `v` record of every store holds it. */
export const CLIENT_STORE_VERSION = 1

/** How long a change waits to be written: the changes of one step and of the steps just after share a batch. */
const FLUSH_DELAY_MS = 10
/** How long after a failed write it is tried again (its changes stay queued). */
const RETRY_MS = 1000
const NONCE_BYTES = 24
const KEY_BYTES = 32
const SUBKEY_CONTEXT = 'smxstore'
const DEVICE_CONTEXT = 'smxdevst'

/** A message waiting for an ingress of its recipient's server, as kept across a restart. */
export interface UnroutedRecord {
  readonly id: string
  readonly server: string
  readonly request: Buffer
  readonly sinceMs: number
}

/** What open() found, in the order the SDK takes it back. */
export interface ClientSnapshot {
  /** Outbox messages, oldest first. */
  readonly messages: OutMessageRecord[]
  /** Oldest first. */
  readonly unrouted: UnroutedRecord[]
  /** The SURBs handed out for acks, oldest first (loop cover SURBs are never kept). */
  readonly surbs: SurbRecord[]
  /** Least recently set first. */
  readonly rooms: RoomKeyRecord[]
  /** Hashes (hex) of envelopes opened lately, oldest first. */
  readonly opened: string[]
}

const RECORD_KINDS = ['m', 'f', 'u', 's', 'r', 'o'] as const
type Kind = (typeof RECORD_KINDS)[number]
const KIND_NAMES: Record<Kind | 'v', string> = {
  v: 'version',
  m: 'outbox message',
  f: 'outbox fragment',
  u: 'unrouted message',
  s: 'SURB',
  r: 'room key',
  o: 'opened envelope'
}

type Meta = Record<string, unknown>

/**
 * A storage key for `device`: 32 bytes derived with crypto.kdfDerive from the device's X25519
 * secret key, which the app keeps anyway and which lives as long as the device (and so as the
 * store). An app with a secret store of its own can pass any 32 secret random bytes it keeps.
 */
export function storageKeyFor(
  crypto: CryptoSuite,
  device: { readonly x25519: { readonly secretKey: Uint8Array } }
): Buffer {
  const out = Buffer.alloc(KEY_BYTES)
  crypto.kdfDerive(out, 1, DEVICE_CONTEXT, device.x25519.secretKey)
  return out
}

const corrupt = (what: string): ClientError =>
  new ClientError('CLIENT_STORE_CORRUPT', `the client store is not usable: ${what}; it was not changed`)

/** meta as JSON, its length first, then the record's bytes. */
function pack(meta: Meta, blob: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(meta))
  const out = Buffer.alloc(4 + json.length + blob.length)
  out.writeUInt32BE(json.length, 0)
  json.copy(out, 4)
  out.set(blob, 4 + json.length)
  return out
}

function unpack(kind: Kind | 'v', pt: Buffer): { meta: Meta; blob: Buffer } {
  const n = pt.length >= 4 ? pt.readUInt32BE(0) : -1
  let meta: unknown = null
  try {
    if (n >= 0 && 4 + n <= pt.length) meta = JSON.parse(pt.subarray(4, 4 + n).toString())
  } catch {
    meta = null
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw corrupt(`a ${KIND_NAMES[kind]} is malformed`)
  return { meta: meta as Meta, blob: Buffer.from(pt.subarray(4 + n)) }
}

/** Field readers: a record that opens but lacks a field is refused like one that does not open. */
function field<T extends 'string' | 'number' | 'boolean'>(
  kind: Kind | 'v',
  m: Meta,
  k: string,
  type: T
): T extends 'string' ? string : T extends 'number' ? number : boolean {
  const v = m[k]
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v)))
    throw corrupt(`a ${KIND_NAMES[kind]} has no valid ${k}`)
  return v as never
}

export class ClientStore {
  readonly #db: Level<string, Uint8Array>
  readonly #c: CryptoSuite
  /** XChaCha20-Poly1305 key of the values. */
  readonly #aeadKey: Buffer
  /** BLAKE2b key of the record names. */
  readonly #nameKey: Buffer
  /** Changes not written yet: a record's key -> its new plaintext, or null to delete it. Bound: one entry per record. */
  #pending = new Map<string, Buffer | null>()
  #writing: Promise<void> | null = null
  #timer: ReturnType<typeof setTimeout> | undefined
  #snapshot: ClientSnapshot | null = null
  #taken = false
  #closed = false
  /** The order of records whose order is kept (messages, unrouted, SURBs, rooms, opened): larger is newer. */
  #seq = 0
  /** Writes that failed (each is tried again); see onWriteError. */
  failures = 0
  /** Told of every write that failed (the changes stay queued and are tried again RETRY_MS later). */
  onWriteError: ((e: ClientError) => void) | undefined

  private constructor(db: Level<string, Uint8Array>, crypto: CryptoSuite, storageKey: Uint8Array) {
    this.#db = db
    this.#c = crypto
    this.#aeadKey = Buffer.alloc(KEY_BYTES)
    this.#nameKey = Buffer.alloc(KEY_BYTES)
    crypto.kdfDerive(this.#aeadKey, 1, SUBKEY_CONTEXT, storageKey)
    crypto.kdfDerive(this.#nameKey, 2, SUBKEY_CONTEXT, storageKey)
  }

  /**
   * Open (creating it when missing) the store at `location` (a directory in Node, a database name
   * in a browser) and read all of it. Throws CLIENT_STORE_CORRUPT when a record does not open
   * under `storageKey` or is malformed, CLIENT_STORE_VERSION for another format,
   * CLIENT_STORE_LOCKED when another process holds it, CLIENT_STORE_FAILED when it cannot be read.
   */
  static async open(location: string, crypto: CryptoSuite, storageKey: Uint8Array): Promise<ClientStore> {
    if (storageKey.length !== KEY_BYTES)
      throw new ClientError('CLIENT_CONFIG_INVALID', 'a storage key is 32 bytes (see storageKeyFor)')
    const db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (e) {
      const locked = (e as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED'
      throw new ClientError(
        locked ? 'CLIENT_STORE_LOCKED' : 'CLIENT_STORE_FAILED',
        locked ? 'another process holds the client store' : 'cannot open the client store',
        { cause: e }
      )
    }
    const store = new ClientStore(db, crypto, storageKey)
    try {
      await store.#load()
    } catch (e) {
      store.#wipeKeys()
      await db.close().catch(() => undefined)
      if (e instanceof ClientError) throw e
      throw new ClientError('CLIENT_STORE_FAILED', 'cannot read the client store', { cause: e })
    }
    return store
  }

  /** The SDK's: the state open() read, handed to one client only (a second one would start from a stale copy). */
  takeSnapshot(): ClientSnapshot {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client store is closed')
    if (this.#taken || this.#snapshot === null)
      throw new ClientError('CLIENT_CONFIG_INVALID', 'a client store serves one client; open it again for another')
    const s = this.#snapshot
    this.#taken = true
    this.#snapshot = null
    return s
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Changes not yet written. */
  get pending(): number {
    return this.#pending.size
  }

  putMessage(m: OutMessageRecord): void {
    this.#put('m', m.id, {
      id: m.id,
      ingressId: m.ingressId,
      createdMs: m.createdMs,
      count: m.fragments.length,
      seq: ++this.#seq
    })
    m.fragments.forEach((f, i) => {
      this.putFragment(m.id, i, f)
    })
  }

  putFragment(messageId: string, index: number, f: OutFragmentRecord): void {
    this.#put(
      'f',
      `${messageId}/${index}`,
      { messageId, index, attempts: f.attempts, acked: f.acked, dueMs: f.dueMs },
      f.bytes
    )
  }

  deleteMessage(id: string, fragments: number): void {
    this.#del('m', id)
    for (let i = 0; i < fragments; i++) this.#del('f', `${id}/${i}`)
  }

  putUnrouted(u: UnroutedRecord): void {
    this.#put('u', u.id, { id: u.id, server: u.server, sinceMs: u.sinceMs, seq: ++this.#seq }, u.request)
  }

  deleteUnrouted(id: string): void {
    this.#del('u', id)
  }

  putSurb(s: SurbRecord): void {
    this.#put('s', s.id, { id: s.id, use: s.use, createdMs: s.createdMs, seq: ++this.#seq }, s.token)
  }

  deleteSurb(id: string): void {
    this.#del('s', id)
  }

  putRoomKey(k: RoomKeyRecord): void {
    this.#put(
      'r',
      k.roomId,
      { roomId: k.roomId, server: k.server, keyId: k.keyId, block: k.block, seq: ++this.#seq },
      Buffer.concat([k.seed, k.proof])
    )
  }

  deleteRoomKey(roomId: string): void {
    this.#del('r', roomId)
  }

  putOpened(hash: string): void {
    this.#put('o', hash, { hash, seq: ++this.#seq })
  }

  deleteOpened(hash: string): void {
    this.#del('o', hash)
  }

  /**
   * Write every change made so far (one batch, after the one in flight). Rejects with
   * CLIENT_STORE_FAILED when the database refuses it; the changes stay queued.
   */
  async flush(): Promise<void> {
    this.#cancelTimer()
    for (;;) {
      if (this.#writing !== null) {
        await this.#writing.catch(() => undefined)
        continue
      }
      if (this.#pending.size === 0) return
      try {
        await this.#write()
      } catch (e) {
        // Counted and told whoever asked for the write; the changes stay queued and are tried again.
        this.failures++
        this.onWriteError?.(e as ClientError)
        this.#schedule(RETRY_MS)
        throw e
      }
    }
  }

  /** Flush, then close the database. Changes after this throw CLIENT_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      this.#cancelTimer()
      this.#wipeKeys()
      await this.#db.close()
    }
  }

  #name(kind: Kind, id: string): string {
    const h = Buffer.alloc(16)
    this.#c.blake2b(h, Buffer.from(`${kind}\0${id}`), this.#nameKey)
    return `${kind}/${h.toString('hex')}`
  }

  #put(kind: Kind, id: string, meta: Meta, blob?: Uint8Array): void {
    this.#queue(this.#name(kind, id), pack(meta, blob))
  }

  #del(kind: Kind, id: string): void {
    this.#queue(this.#name(kind, id), null)
  }

  #queue(key: string, plaintext: Buffer | null): void {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client store is closed')
    this.#pending.set(key, plaintext)
    this.#schedule(FLUSH_DELAY_MS)
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      // A failure is counted, told and tried again by flush() itself.
      this.flush().catch(() => undefined)
    }, ms)
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #write(): Promise<void> {
    const taken = this.#pending
    this.#pending = new Map()
    const ops = [...taken].map(([key, pt]) =>
      pt === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value: this.#seal(key, pt) }
    )
    const w = this.#db
      .batch(ops, { sync: true })
      .catch((e: unknown) => {
        // Put back what no newer change replaced, to be written with the next batch.
        for (const [k, v] of taken) if (!this.#pending.has(k)) this.#pending.set(k, v)
        throw new ClientError('CLIENT_STORE_FAILED', 'cannot write the client store', { cause: e })
      })
      .finally(() => {
        this.#writing = null
      })
    this.#writing = w
    return w
  }

  #seal(key: string, pt: Uint8Array): Buffer {
    const nonce = Buffer.alloc(NONCE_BYTES)
    this.#c.randomFill(nonce)
    return Buffer.concat([nonce, this.#c.aeadEncrypt(pt, Buffer.from(key), nonce, this.#aeadKey)])
  }

  #unseal(kind: Kind | 'v', key: string, value: Uint8Array): Buffer {
    const pt =
      value.length < NONCE_BYTES
        ? null
        : this.#c.aeadDecrypt(
            value.subarray(NONCE_BYTES),
            Buffer.from(key),
            value.subarray(0, NONCE_BYTES),
            this.#aeadKey
          )
    if (pt === null)
      throw corrupt(
        `a ${KIND_NAMES[kind]} record does not open: the storage key is not the one it was written with, or the record is damaged`
      )
    return Buffer.from(pt)
  }

  #wipeKeys(): void {
    this.#aeadKey.fill(0)
    this.#nameKey.fill(0)
  }

  /** Read every record, check it, and order what the SDK takes back. */
  async #load(): Promise<void> {
    const v = await this.#db.get('v')
    if (v === undefined) {
      for await (const _ of this.#db.keys({ limit: 1 })) throw corrupt('it has records but no version record')
      // A new store: its version record is written before anything else.
      await this.#db.batch(
        [{ type: 'put', key: 'v', value: this.#seal('v', pack({ format: CLIENT_STORE_VERSION })) }],
        { sync: true }
      )
    } else {
      const format = field('v', unpack('v', this.#unseal('v', 'v', v)).meta, 'format', 'number')
      if (format !== CLIENT_STORE_VERSION)
        throw new ClientError(
          'CLIENT_STORE_VERSION',
          `the client store has format ${format}; this SDK reads format ${CLIENT_STORE_VERSION}`
        )
    }

    const messages = new Map<string, { r: Omit<OutMessageRecord, 'fragments'>; count: number; seq: number }>()
    const fragments = new Map<string, Map<number, OutFragmentRecord>>()
    const unrouted: Array<UnroutedRecord & { seq: number }> = []
    const surbs: Array<SurbRecord & { seq: number }> = []
    const rooms: Array<RoomKeyRecord & { seq: number }> = []
    const opened: Array<{ hash: string; seq: number }> = []
    for await (const [key, value] of this.#db.iterator()) {
      if (key === 'v') continue
      const kind = key.slice(0, 2).replace('/', '') as Kind
      if (!RECORD_KINDS.includes(kind) || key[1] !== '/') throw corrupt('it has a record of an unknown kind')
      const { meta: m, blob } = unpack(kind, this.#unseal(kind, key, value))
      const seq = kind === 'f' ? 0 : field(kind, m, 'seq', 'number')
      this.#seq = Math.max(this.#seq, seq)
      let id: string
      if (kind === 'm') {
        id = field(kind, m, 'id', 'string')
        const count = field(kind, m, 'count', 'number')
        if (!Number.isInteger(count) || count < 1 || count > MAX_FRAGMENTS)
          throw corrupt('an outbox message has no valid count')
        const r = {
          id,
          ingressId: field(kind, m, 'ingressId', 'string'),
          createdMs: field(kind, m, 'createdMs', 'number')
        }
        messages.set(id, { r, count, seq })
      } else if (kind === 'f') {
        const messageId = field(kind, m, 'messageId', 'string')
        const index = field(kind, m, 'index', 'number')
        if (!Number.isInteger(index) || index < 0 || index >= MAX_FRAGMENTS)
          throw corrupt('an outbox fragment has no valid index')
        id = `${messageId}/${index}`
        const f: OutFragmentRecord = {
          bytes: blob,
          attempts: field(kind, m, 'attempts', 'number'),
          acked: field(kind, m, 'acked', 'boolean'),
          dueMs: field(kind, m, 'dueMs', 'number')
        }
        const of = fragments.get(messageId) ?? new Map<number, OutFragmentRecord>()
        fragments.set(messageId, of)
        of.set(index, f)
      } else if (kind === 'u') {
        id = field(kind, m, 'id', 'string')
        unrouted.push({
          id,
          server: field(kind, m, 'server', 'string'),
          sinceMs: field(kind, m, 'sinceMs', 'number'),
          request: blob,
          seq
        })
      } else if (kind === 's') {
        id = field(kind, m, 'id', 'string')
        surbs.push({ id, token: blob, use: surbUse(m.use), createdMs: field(kind, m, 'createdMs', 'number'), seq })
      } else if (kind === 'r') {
        id = field(kind, m, 'roomId', 'string')
        if (blob.length < 32) throw corrupt('a room key has no seed')
        rooms.push({
          roomId: id,
          server: field(kind, m, 'server', 'string'),
          keyId: field(kind, m, 'keyId', 'number'),
          block: field(kind, m, 'block', 'boolean'),
          seed: blob.subarray(0, 32),
          proof: blob.subarray(32),
          seq
        })
      } else {
        id = field(kind, m, 'hash', 'string')
        opened.push({ hash: id, seq })
      }
      // The name must be the one this id is written under: a record copied under another name is refused.
      if (this.#name(kind, id) !== key) throw corrupt(`a ${KIND_NAMES[kind]} is stored under another name`)
    }

    const outbox: Array<OutMessageRecord & { seq: number }> = []
    for (const [id, { r, count, seq }] of messages) {
      const of = fragments.get(id)
      fragments.delete(id)
      const list: OutFragmentRecord[] = []
      for (let i = 0; i < count; i++) {
        const f = of?.get(i)
        if (f === undefined) throw corrupt('an outbox message lacks a fragment')
        list.push(f)
      }
      if (of !== undefined && of.size !== count) throw corrupt('an outbox message has fragments beyond its count')
      outbox.push({ ...r, fragments: list, seq })
    }
    if (fragments.size > 0) throw corrupt('an outbox fragment has no message')

    const bySeq = (a: { seq: number }, b: { seq: number }): number => a.seq - b.seq
    const byTime = (a: { createdMs: number; seq: number }, b: { createdMs: number; seq: number }): number =>
      a.createdMs - b.createdMs || a.seq - b.seq
    const strip = <T extends { seq: number }>({ seq: _, ...r }: T): Omit<T, 'seq'> => r
    this.#snapshot = {
      messages: outbox.sort(byTime).map(strip),
      unrouted: unrouted.sort(bySeq).map(strip),
      surbs: surbs.sort(byTime).map(strip),
      rooms: rooms.sort(bySeq).map(strip),
      opened: opened.sort(bySeq).map(o => o.hash)
    }
  }
}

function surbUse(u: unknown): SurbUse {
  const m = (typeof u === 'object' && u !== null ? u : {}) as Meta
  if (m.kind === 'loop') return { kind: 'loop' }
  if (m.kind !== 'ack') throw corrupt('a SURB has no valid use')
  return { kind: 'ack', messageId: field('s', m, 'messageId', 'string'), index: field('s', m, 'index', 'number') }
}
