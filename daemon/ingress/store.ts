/**
 * The ingress's LevelDB (<dataDir>/db): what must survive a restart.
 * - replay: `r` ‖ u32 hour ‖ envelope hash (32) -> message id (16). Written (synced) before the
 *   sender is told `delivered`; the three hours that delivery authorization accepts are loaded at
 *   start, older hours deleted. Bounded: when full, deliveries wait (try later) rather than forget.
 * - capabilities: `c` ‖ BLAKE2b-256(dest, store key) -> JSON list of {keyId, publicKey, addedMs};
 *   the newest two keys of a device are kept (the previous one for its grace period, or not at all
 *   after a block).
 * - room send keys: `k` ‖ BLAKE2b-256("room\0" ‖ room id, store key) -> JSON {by, keys}: `by` the
 *   keyed hash of the user who registered the room's first key, `keys` a list of {keyId,
 *   publicKey, addedMs, untilMs?}: the current key and the one it replaced, valid until untilMs.
 *   At most `maxRooms` rooms, and `maxRoomsPerUser` first registrations by one user.
 * No user id and no token is stored in clear.
 */
import { Level } from 'level'
import { type CryptoSuite, type DestinationAuth, epochHour } from '../../mix/index.ts'
import { IngressError } from './errors.ts'

const ENC = { keyEncoding: 'view', valueEncoding: 'view' } as const
const CAPABILITY_GRACE_MS = 24 * 3600_000

interface StoredKey {
  keyId: number
  publicKey: string
  addedMs: number
  /** A replaced key is valid until then (rooms; devices use their fixed grace). */
  untilMs?: number
}

/** What a room key registration did; `no_proof` when a key exists and the rotation is not signed by it. */
export type RoomKeyResult = 'registered' | 'rotated' | 'unchanged' | 'no_proof' | 'key_id_reused' | 'full' | 'user_full'

interface StoredRoom {
  /** Keyed hash of the user who registered the room's first key: one user cannot take every slot. */
  by: string
  keys: StoredKey[]
}

export class IngressStore {
  readonly #db: Level<Uint8Array, Uint8Array>
  /** envelope hash (hex) -> { message id (hex), hour } */
  readonly #replay = new Map<string, { messageId: string; hour: number }>()
  readonly #caps = new Map<string, StoredKey[]>()
  /** Bound: `maxRooms` entries of at most two keys each. */
  readonly #rooms = new Map<string, StoredRoom>()
  /** Rooms registered per user (keyed hash); bound: each at most `maxRoomsPerUser`, entries at most `maxRooms`. */
  readonly #roomsBy = new Map<string, number>()

  constructor(
    location: string,
    private readonly c: CryptoSuite,
    private readonly storeKey: Buffer,
    private readonly maxReplay: number,
    private readonly maxRooms = 100_000,
    private readonly maxRoomsPerUser = 1000
  ) {
    this.#db = new Level<Uint8Array, Uint8Array>(location, ENC)
  }

  get replayEntries(): number {
    return this.#replay.size
  }
  get replayFull(): boolean {
    return this.#replay.size >= this.maxReplay
  }

  async open(nowMs: number): Promise<void> {
    try {
      await this.#db.open()
    } catch (e) {
      const locked = (e as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED'
      throw new IngressError(
        locked ? 'INGRESS_STORE_LOCKED' : 'INGRESS_CONFIG_INVALID',
        locked ? 'another process holds the data directory' : 'cannot open the database in the data directory',
        { cause: e }
      )
    }
    const oldest = epochHour(nowMs) - 2
    const stale: Uint8Array[] = []
    for await (const [k, v] of this.#db.iterator()) {
      const key = Buffer.from(k)
      if (key[0] === 0x72) {
        // 'r'
        const hour = key.readUInt32BE(1)
        if (hour < oldest) stale.push(k)
        else this.#replay.set(key.subarray(5).toString('hex'), { messageId: Buffer.from(v).toString('hex'), hour })
      } else if (key[0] === 0x63) {
        // 'c'
        this.#caps.set(key.subarray(1).toString('hex'), JSON.parse(Buffer.from(v).toString('utf8')) as StoredKey[])
      } else if (key[0] === 0x6b) {
        // 'k'
        const room = JSON.parse(Buffer.from(v).toString('utf8')) as StoredRoom
        this.#rooms.set(key.subarray(1).toString('hex'), room)
        this.#roomsBy.set(room.by, (this.#roomsBy.get(room.by) ?? 0) + 1)
      }
    }
    if (stale.length > 0)
      await this.#db.batch(
        stale.map(key => ({ type: 'del' as const, key })),
        { sync: true }
      )
  }

  async close(): Promise<void> {
    await this.#db.close()
  }

  /** The message id under which this envelope was delivered, if it was. */
  deliveredAs(envelopeHash: Buffer): string | undefined {
    return this.#replay.get(envelopeHash.toString('hex'))?.messageId
  }

  async recordDelivered(envelopeHash: Buffer, messageId: Buffer, nowMs: number): Promise<void> {
    const hour = epochHour(nowMs)
    const key = Buffer.alloc(37)
    key[0] = 0x72
    key.writeUInt32BE(hour, 1)
    envelopeHash.copy(key, 5)
    await this.#db.put(key, messageId, { sync: true })
    this.#replay.set(envelopeHash.toString('hex'), { messageId: messageId.toString('hex'), hour })
  }

  /** Forget hours that delivery authorization no longer accepts (memory and disk). */
  async expire(nowMs: number): Promise<void> {
    const oldest = epochHour(nowMs) - 2
    const dels: Uint8Array[] = []
    for (const [h, e] of this.#replay) {
      if (e.hour >= oldest) continue
      this.#replay.delete(h)
      const key = Buffer.alloc(37)
      key[0] = 0x72
      key.writeUInt32BE(e.hour, 1)
      Buffer.from(h, 'hex').copy(key, 5)
      dels.push(key)
    }
    if (dels.length > 0)
      await this.#db.batch(
        dels.map(key => ({ type: 'del' as const, key })),
        { sync: true }
      )
  }

  #destKey(dest: string): string {
    const h = Buffer.alloc(32)
    this.c.blake2b(h, Buffer.from(dest, 'utf8'), this.storeKey)
    return h.toString('hex')
  }

  /** Register (or rotate to) a device's capability key; the previous one stays for 24 h, or not at all for a block. */
  async setCapability(
    dest: string,
    keyId: number,
    publicKey: Buffer,
    nowMs: number,
    block = false
  ): Promise<'set' | 'stale'> {
    const k = this.#destKey(dest)
    // Key ids only go up: a profile restored from before a rotation (or a block) cannot bring its old key back.
    const newest = this.#caps.get(k)?.at(-1)
    if (newest !== undefined && keyId < newest.keyId) return 'stale'
    const list = block ? [] : (this.#caps.get(k) ?? []).filter(x => x.keyId !== keyId)
    list.push({ keyId, publicKey: publicKey.toString('hex'), addedMs: nowMs })
    const kept = list.slice(-2)
    await this.#db.put(Buffer.concat([Buffer.of(0x63), Buffer.from(k, 'hex')]), Buffer.from(JSON.stringify(kept)), {
      sync: true
    })
    this.#caps.set(k, kept)
    return 'set'
  }

  #roomKey(roomId: string): string {
    return this.#destKey(`room\0${roomId}`)
  }

  /** The room's current send key. */
  currentRoomKey(roomId: string): { keyId: number; publicKey: Buffer } | undefined {
    const cur = this.#rooms.get(this.#roomKey(roomId))?.keys.at(-1)
    return cur === undefined ? undefined : { keyId: cur.keyId, publicKey: Buffer.from(cur.publicKey, 'hex') }
  }

  /**
   * Register a room's first send key, or rotate to a successor that `verified` says the current
   * key signed. The replaced key stays valid for `graceMs` (0 for a block).
   */
  async setRoomKey(
    roomId: string,
    next: { keyId: number; publicKey: Buffer },
    nowMs: number,
    o: {
      /** The registering user (kept only as a keyed hash, to count their rooms). */
      userId: string
      graceMs: number
      verified: (current: { keyId: number; publicKey: Buffer }) => boolean
    }
  ): Promise<RoomKeyResult> {
    const k = this.#roomKey(roomId)
    const held = this.#rooms.get(k)
    const cur = held?.keys.at(-1)
    let kept: StoredKey[]
    let result: RoomKeyResult
    const entry = { keyId: next.keyId, publicKey: next.publicKey.toString('hex'), addedMs: nowMs }
    const by = held?.by ?? this.#destKey(`user\0${o.userId}`)
    if (cur === undefined) {
      if (this.#rooms.size >= this.maxRooms) return 'full'
      if ((this.#roomsBy.get(by) ?? 0) >= this.maxRoomsPerUser) return 'user_full'
      kept = [entry]
      result = 'registered'
    } else if (cur.keyId === next.keyId && cur.publicKey === entry.publicKey) {
      return 'unchanged'
    } else {
      if (!o.verified({ keyId: cur.keyId, publicKey: Buffer.from(cur.publicKey, 'hex') })) return 'no_proof'
      // Delivery authorization names a key by its id: a successor needs its own.
      if (cur.keyId === next.keyId) return 'key_id_reused'
      kept = o.graceMs > 0 ? [{ ...cur, untilMs: nowMs + o.graceMs }, entry] : [entry]
      result = 'rotated'
    }
    const room: StoredRoom = { by, keys: kept }
    await this.#db.put(Buffer.concat([Buffer.of(0x6b), Buffer.from(k, 'hex')]), Buffer.from(JSON.stringify(room)), {
      sync: true
    })
    this.#rooms.set(k, room)
    if (result === 'registered') this.#roomsBy.set(by, (this.#roomsBy.get(by) ?? 0) + 1)
    return result
  }

  get rooms(): number {
    return this.#rooms.size
  }

  /** For checkDelivery of a room submission: the current send key, and the replaced one within its grace. */
  lookupRoom(roomId: string, nowMs: number): DestinationAuth | undefined {
    const list = this.#rooms.get(this.#roomKey(roomId))?.keys
    if (list === undefined || list.length === 0) return undefined
    const live = list.filter(x => x.untilMs === undefined || nowMs < x.untilMs)
    return { capabilityKeys: live.map(x => ({ keyId: x.keyId, publicKey: Buffer.from(x.publicKey, 'hex') })) }
  }

  /** For checkDelivery: the destination's current key, and the previous one within its grace. */
  lookup(dest: string, nowMs: number): DestinationAuth | undefined {
    const list = this.#caps.get(this.#destKey(dest))
    if (list === undefined || list.length === 0) return undefined
    const newest = list[list.length - 1]!
    const live = list.filter(x => x === newest || nowMs - newest.addedMs < CAPABILITY_GRACE_MS)
    return { capabilityKeys: live.map(x => ({ keyId: x.keyId, publicKey: Buffer.from(x.publicKey, 'hex') })) }
  }
}
