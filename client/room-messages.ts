/**
 * The room half of SealmixClient (docs/PROTOCOL.md §15a): build a room submission (sealed once for
 * every member device, authorized with the room's send key), open a sealed room event and check
 * it in order, and take a room key a member shared. Pure functions of what the client holds; the
 * client queues, counts and emits.
 */
import {
  type CryptoSuite,
  encodeSubmit,
  KIND_ROOM,
  MAX_ROOM_BATCH,
  MAX_ROOM_DEVICES,
  openRoomMessage,
  parseRoomKeyShare,
  type Rng,
  ROOM_EVENT_TYPE,
  ROOM_KEY_CONTENT_TYPE,
  roomIdDomain,
  type SealCode,
  type SenderCert,
  type ServerCert,
  sealRoomMessage,
  signDelivery,
  type TrustStore,
  type VerifiedMessage,
  type X25519KeyPair
} from '../mix/index.ts'
import { ClientError } from './errors.ts'
import type { RegisteredRoomKey, RoomKeyAccept, RoomKeyring } from './rooms.ts'

/** A room event as the chat client's Matrix library gives it. */
export interface RoomEventInput {
  readonly roomId: string
  readonly type: string
  /** The event's Matrix sender: an ingress's bot for a sealed room message. */
  readonly sender: string
  readonly content: Record<string, unknown>
}

export type RoomRejectCode =
  | SealCode
  | 'CLIENT_ROOM_EVENT_MALFORMED'
  | 'CLIENT_ROOM_EVENT_FORGED'
  | 'CLIENT_ROOM_SENDER_NOT_JOINED'

/** What opening a room event gave: a verified message from a joined member, or why not. */
export type RoomOpenResult =
  | { readonly kind: 'received'; readonly roomId: string; readonly message: VerifiedMessage }
  /** This device sealed it (its own wrap is in every batch it sends). */
  | { readonly kind: 'own' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'rejected'; readonly code: RoomRejectCode }

/** What the room functions need of the client. */
export interface RoomContext {
  readonly crypto: CryptoSuite
  readonly rng: Rng
  readonly nowMs: number
  readonly device: { readonly userId: string; readonly deviceId: string; readonly x25519: X25519KeyPair }
  readonly trust: TrustStore
  readonly rooms: RoomKeyring
  readonly senderCert?: SenderCert
  readonly serverCert?: ServerCert
}

/**
 * The one Matrix user that posts a room's sealed messages: the bot of the ingress of the room's
 * own server (where its key is registered). An event from anyone else, a bot of another server
 * included, is forged.
 */
export function roomBot(roomId: string, localpart = 'sealmix'): string | null {
  const server = roomIdDomain(roomId)
  return server === null ? null : `@${localpart}:${server}`
}

/**
 * The encoded room submission for `content` and the server whose ingress takes it. `devices`: the
 * x25519 keys of every joined member device; this device is added when missing, so that the batch
 * has no gap where the sender is. Throws what no network document can fix.
 */
export function roomSubmission(
  x: RoomContext,
  roomId: string,
  content: Uint8Array | string,
  devices: readonly Uint8Array[],
  opts: { readonly contentType?: number; readonly contentHint?: number }
): { server: string; request: Buffer } {
  const { senderCert, serverCert } = x
  if (senderCert === undefined)
    throw new ClientError('CLIENT_CONFIG_INVALID', 'sending needs a SenderCert (fetch one from the ingress)')
  const key = x.rooms.get(roomId)
  if (key === undefined) throw new ClientError('CLIENT_NO_ROOM_KEY', 'this device holds no send key for the room')
  // Each device once (a repeated key would make a batch the ingress refuses), this one included.
  const unique = new Map(devices.map(d => [Buffer.from(d).toString('hex'), d]))
  unique.set(Buffer.from(x.device.x25519.publicKey).toString('hex'), x.device.x25519.publicKey)
  const all = [...unique.values()]
  if (all.length > MAX_ROOM_DEVICES)
    throw new ClientError(
      'CLIENT_ROOM_TOO_LARGE',
      `a room message reaches at most ${MAX_ROOM_DEVICES} member devices (this room has ${all.length})`
    )
  const batch = sealRoomMessage(
    x.crypto,
    roomId,
    {
      contentType: opts.contentType ?? 8,
      contentHint: opts.contentHint,
      content: typeof content === 'string' ? Buffer.from(content) : content,
      senderCert,
      serverCert
    },
    x.device.x25519,
    all,
    x.rng
  )
  if (batch.length > MAX_ROOM_BATCH)
    throw new ClientError(
      'CLIENT_ROOM_TOO_LARGE',
      `a room message of ${batch.length} bytes for ${all.length} devices is over the ${MAX_ROOM_BATCH}-byte limit of a room event`
    )
  const request = encodeSubmit({
    kind: KIND_ROOM,
    dest: roomId,
    envelope: batch,
    auth: signDelivery(x.crypto, key.secretKey, key.keyId, roomId, x.nowMs, batch, 'group')
  })
  return { server: key.server, request }
}

/**
 * Open a sealed room event, in the order of docs/PROTOCOL.md §15a: the event type and its batch,
 * the bot of the room's server as its Matrix sender, this device's wrap, every step of recipient
 * verification, the room it was sealed for, then (unless `seen` knows the copy) the certified
 * sender joined at that event. `seen(hash)`: whether this device opened that copy before;
 * `remember(hash)` once it is received.
 */
export function openRoomEventWith(
  x: RoomContext,
  ev: RoomEventInput,
  joined: (userId: string) => boolean,
  o: {
    readonly botLocalpart: string
    readonly seen: (copyHash: string) => boolean
    readonly remember: (copyHash: string) => void
  }
): RoomOpenResult {
  const reject = (code: RoomRejectCode): RoomOpenResult => ({ kind: 'rejected', code })
  if (ev.type !== ROOM_EVENT_TYPE || typeof ev.content.batch !== 'string') return reject('CLIENT_ROOM_EVENT_MALFORMED')
  if (ev.sender !== roomBot(ev.roomId, o.botLocalpart)) return reject('CLIENT_ROOM_EVENT_FORGED')
  const d = x.device
  const r = openRoomMessage(x.crypto, ev.roomId, Buffer.from(ev.content.batch, 'base64'), d.x25519, x.trust, {
    nowMs: x.nowMs,
    self: { userId: d.userId, deviceId: d.deviceId }
  })
  if (!r.ok) return r.code === 'SEAL_SELF_SEND' ? { kind: 'own' } : reject(r.code)
  const h = x.crypto.sha512_256(r.value.copy).toString('hex')
  if (o.seen(h)) return { kind: 'duplicate' }
  if (!joined(r.value.message.sender.userId)) return reject('CLIENT_ROOM_SENDER_NOT_JOINED')
  o.remember(h)
  return { kind: 'received', roomId: ev.roomId, message: r.value.message }
}

/**
 * A received message of content type 9 (a room key share): kept when its certified sender is
 * joined to the room and it is the key the room's ingress holds now (`registered(roomId)`, for
 * example fetchRoomKey with this user's token).
 */
export async function acceptRoomKeyWith(
  rooms: RoomKeyring,
  m: VerifiedMessage,
  joined: (roomId: string, userId: string) => boolean,
  registered: (roomId: string) => Promise<RegisteredRoomKey>
): Promise<RoomKeyAccept> {
  if (m.contentType !== ROOM_KEY_CONTENT_TYPE) return { kind: 'refused', code: 'SEAL_INNER_MALFORMED' }
  const share = parseRoomKeyShare(m.content)
  if (!share.ok) return { kind: 'refused', code: share.code }
  const senderJoined = joined(share.value.roomId, m.sender.userId)
  if (!senderJoined) return rooms.accept(share.value, false, null)
  return rooms.accept(share.value, true, await registered(share.value.roomId))
}
