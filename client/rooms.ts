/**
 * Room send keys on the client (docs/PROTOCOL.md §15a): make a room's first key, rotate it (a
 * normal rotation, or a block that leaves someone out), hold the keys of the rooms this device is
 * in, and accept a key a member shared only when it is the key the room's ingress holds now.
 */
import {
  type CryptoSuite,
  encodeRoomKeyShare,
  type Rng,
  type RoomKeyShare,
  roomIdDomain,
  type SealCode,
  signRoomKeyRotation
} from '../mix/index.ts'
import { ClientError } from './errors.ts'

export interface RoomKey {
  readonly roomId: string
  /** The server whose ingress holds the public half and posts the room's messages. */
  readonly server: string
  readonly keyId: number
  readonly seed: Buffer
  readonly publicKey: Buffer
  readonly secretKey: Buffer
  /** The replaced key's signature over this one; empty for a room's first key. */
  readonly proof: Buffer
  readonly block: boolean
}

function fromSeed(c: CryptoSuite, s: Omit<RoomKey, 'publicKey' | 'secretKey'>): RoomKey {
  const kp = c.signSeedKeypair(s.seed)
  return { ...s, publicKey: Buffer.from(kp.publicKey), secretKey: Buffer.from(kp.secretKey) }
}

/**
 * A room's first send key, to register with the ingress of the room's own server (the server in
 * its id): that ingress holds it, and its bot posts the room's sealed messages.
 */
export function newRoomKey(c: CryptoSuite, rng: Rng, roomId: string): RoomKey {
  const server = roomIdDomain(roomId)
  if (server === null) throw new ClientError('CLIENT_CONFIG_INVALID', 'not a room id (!opaque:server)')
  return fromSeed(c, { roomId, server, keyId: 1, seed: rng.bytes(32), proof: Buffer.alloc(0), block: false })
}

/**
 * The successor of `current`, signed by it. `block`: the ingress ends `current` at once instead of
 * after its grace, and the members who get the new key stop accepting `current`'s holders.
 */
export function nextRoomKey(c: CryptoSuite, rng: Rng, current: RoomKey, o: { block: boolean }): RoomKey {
  const seed = rng.bytes(32)
  const keyId = (current.keyId + 1) >>> 0
  const pk = Buffer.from(c.signSeedKeypair(seed).publicKey)
  const proof = signRoomKeyRotation(c, current.secretKey, current.roomId, keyId, pk, o.block)
  return fromSeed(c, { roomId: current.roomId, server: current.server, keyId, seed, proof, block: o.block })
}

export function roomKeyShare(k: RoomKey): Buffer {
  const s: RoomKeyShare = {
    roomId: k.roomId,
    server: k.server,
    keyId: k.keyId,
    seed: k.seed,
    block: k.block,
    proof: k.proof
  }
  return encodeRoomKeyShare(s)
}

/** What became of a shared room key. */
export type RoomKeyAccept =
  | { readonly kind: 'accepted'; readonly key: RoomKey }
  | { readonly kind: 'unchanged' }
  | {
      readonly kind: 'refused'
      readonly code: SealCode | 'CLIENT_ROOM_SENDER_NOT_JOINED' | 'CLIENT_ROOM_KEY_UNREGISTERED'
    }

/** The key a room's ingress holds now (fetchRoomKey), or null when it holds none. */
export type RegisteredRoomKey = { readonly keyId: number; readonly publicKey: Uint8Array } | null

/** Rooms whose keys a device holds at most: beyond it the least recently set is forgotten. */
export const MAX_ROOM_KEYS = 10_000

/**
 * What of a room key is kept across a restart: everything but the key pair, which is derived
 * again from the seed.
 */
export type RoomKeyRecord = Omit<RoomKey, 'publicKey' | 'secretKey'>

export function roomKeyRecord(k: RoomKey): RoomKeyRecord {
  return { roomId: k.roomId, server: k.server, keyId: k.keyId, seed: k.seed, proof: k.proof, block: k.block }
}

/** Told of every key set and every key forgotten, after the change (the SDK keeps them: client/store.ts). */
export interface RoomKeyListener {
  set(k: RoomKey): void
  removed(roomId: string): void
}

export class RoomKeyring {
  /** Bound: MAX_ROOM_KEYS rooms, insertion order = least recently set first. */
  readonly #keys = new Map<string, RoomKey>()

  constructor(
    private readonly c: CryptoSuite,
    private readonly listener?: RoomKeyListener
  ) {}

  get size(): number {
    return this.#keys.size
  }

  get(roomId: string): RoomKey | undefined {
    return this.#keys.get(roomId)
  }

  set(k: RoomKey): void {
    this.#keys.delete(k.roomId)
    this.#keys.set(k.roomId, k)
    this.listener?.set(k)
    this.#trim()
  }

  /** Take back keys a previous run kept, least recently set first; beyond MAX_ROOM_KEYS the oldest are forgotten. */
  restore(records: readonly RoomKeyRecord[]): void {
    for (const r of records) {
      this.#keys.delete(r.roomId)
      this.#keys.set(r.roomId, fromSeed(this.c, r))
    }
    this.#trim()
  }

  #trim(): void {
    while (this.#keys.size > MAX_ROOM_KEYS) {
      const oldest = this.#keys.keys().next().value!
      this.#keys.delete(oldest)
      this.listener?.removed(oldest)
    }
  }

  /**
   * A share from a member: kept when its sender is joined to the room and it is the very key the
   * room's ingress holds now (`registered`, asked of the ingress by the member). Nobody can make
   * a member switch to a key of their own: not a blocked member who rotated the old key she still
   * holds, not someone who offers a first key, not a share naming another server.
   */
  accept(share: RoomKeyShare, senderJoined: boolean, registered: RegisteredRoomKey): RoomKeyAccept {
    if (!senderJoined) return { kind: 'refused', code: 'CLIENT_ROOM_SENDER_NOT_JOINED' }
    const key = fromSeed(this.c, { ...share })
    const matches =
      share.server === roomIdDomain(share.roomId) &&
      registered !== null &&
      registered.keyId === key.keyId &&
      this.c.equal(registered.publicKey, key.publicKey)
    if (!matches) return { kind: 'refused', code: 'CLIENT_ROOM_KEY_UNREGISTERED' }
    const held = this.#keys.get(share.roomId)
    if (held !== undefined && held.keyId === key.keyId && held.publicKey.equals(key.publicKey))
      return { kind: 'unchanged' }
    this.set(key)
    return { kind: 'accepted', key }
  }
}
