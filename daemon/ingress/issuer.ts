/**
 * The ingress's client API handlers: SenderCert issuance, capability registration and room send
 * key registration. Each authenticates the caller with their Matrix access token through the
 * homeserver's whoami; the token is passed on and forgotten, never stored or logged.
 */
import {
  type CryptoSuite,
  isRoomId,
  roomIdDomain,
  SENDER_CERT_LIFETIME_MS,
  signSenderCert,
  userIdDomain,
  verifyRoomKeyRotation
} from '../../mix/index.ts'
import type { ApiAnswer, ApiHandlers } from './http.ts'
import type { IngressKeys } from './keys.ts'
import { isJoined, joinAsBot, whoami } from './matrix.ts'
import type { API_ENDPOINTS, API_RESULTS, IngressMetrics, ROOM_KEY_RESULTS } from './metrics.ts'
import type { IngressStore } from './store.ts'

const HEX32 = /^[0-9a-f]{64}$/
const HEX64 = /^[0-9a-f]{128}$/

export interface IssuerOptions {
  readonly crypto: CryptoSuite
  readonly keys: IngressKeys
  readonly store: IngressStore
  readonly metrics: IngressMetrics
  readonly homeserver: { readonly url: string; readonly timeoutMs: number; readonly asToken: string }
  /** The application service's user that posts room messages: @<botLocalpart>:<serverName>. */
  readonly botUserId: string
  /** How long a replaced room send key stays valid after a normal rotation. */
  readonly roomRotationGraceMs: number
  readonly serverName: string
  readonly now: () => number
}

type Endpoint = (typeof API_ENDPOINTS)[number]
/** A result label: one of the closed sets of metrics.ts. */
type ApiResult = (typeof API_RESULTS)[number] | (typeof ROOM_KEY_RESULTS)[number]

const err = (status: number, errcode: string, error: string): ApiAnswer => ({ status, body: { errcode, error } })

export class IssuerApi implements ApiHandlers {
  /** rooms.rotationGraceMs in force (a reload may change it: for rotations registered from then on). */
  #graceMs: number

  constructor(private readonly o: IssuerOptions) {
    this.#graceMs = o.roomRotationGraceMs
  }

  set roomRotationGraceMs(ms: number) {
    this.#graceMs = ms
  }

  #count(endpoint: Endpoint, result: ApiResult): void {
    this.o.metrics.api.inc({ endpoint, result })
  }

  /** whoami: the caller's user (and device) when the token is one of this server's users, or an error answer. */
  async #user(
    endpoint: Endpoint,
    token: string
  ): Promise<{ kind: 'user'; userId: string; deviceId?: string } | { kind: 'answer'; answer: ApiAnswer }> {
    const count = (result: ApiResult): void => this.#count(endpoint, result)
    let who: Awaited<ReturnType<typeof whoami>>
    try {
      who = await whoami({ url: this.o.homeserver.url, token, timeoutMs: this.o.homeserver.timeoutMs })
    } catch {
      count('homeserver_error')
      return {
        kind: 'answer',
        answer: err(502, 'SEALMIX_HOMESERVER', 'the homeserver did not confirm the access token')
      }
    }
    if (who === null) {
      count('unknown_token')
      return { kind: 'answer', answer: err(401, 'M_UNKNOWN_TOKEN', 'Unknown access token') }
    }
    if (userIdDomain(who.userId) !== this.o.serverName) {
      count('foreign_user')
      return { kind: 'answer', answer: err(403, 'SEALMIX_FOREIGN_USER', 'the user is not on this server') }
    }
    return { kind: 'user', ...who }
  }

  /** whoami, then the device checks that certificate and capability requests share. */
  async #caller(
    endpoint: 'sender_cert' | 'capability',
    token: string,
    deviceId: unknown
  ): Promise<{ userId: string; deviceId: string } | ApiAnswer> {
    const count = (result: ApiResult): void => this.#count(endpoint, result)
    if (deviceId !== undefined && (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > 255)) {
      count('bad_request')
      return err(400, 'M_INVALID_PARAM', 'device_id must be a non-empty string')
    }
    const user = await this.#user(endpoint, token)
    if (user.kind === 'answer') return user.answer
    const who = user
    const device = (deviceId as string | undefined) ?? who.deviceId
    if (device === undefined) {
      count('bad_request')
      return err(400, 'M_MISSING_PARAM', 'device_id is required')
    }
    if (who.deviceId !== undefined && who.deviceId !== device) {
      count('device_mismatch')
      return err(403, 'SEALMIX_DEVICE_MISMATCH', 'the access token belongs to another device')
    }
    return { userId: who.userId, deviceId: device }
  }

  /**
   * The caller (whoami) when joined to `roomId`, asked of the homeserver with the caller's own
   * token; else the answer to give.
   */
  async #member(
    endpoint: 'room_key' | 'room_key_current',
    token: string,
    roomId: string
  ): Promise<{ kind: 'member'; userId: string } | { kind: 'answer'; answer: ApiAnswer }> {
    const user = await this.#user(endpoint, token)
    if (user.kind === 'answer') return user
    const hs = this.o.homeserver
    const answer = (result: 'homeserver_error' | 'not_joined', a: ApiAnswer): { kind: 'answer'; answer: ApiAnswer } => {
      this.#count(endpoint, result)
      return { kind: 'answer', answer: a }
    }
    try {
      if (await isJoined({ url: hs.url, token, timeoutMs: hs.timeoutMs }, roomId, user.userId))
        return { kind: 'member', userId: user.userId }
    } catch {
      return answer('homeserver_error', err(502, 'SEALMIX_HOMESERVER', 'the homeserver did not answer'))
    }
    return answer('not_joined', err(403, 'SEALMIX_NOT_JOINED', 'the user is not joined to the room'))
  }

  async senderCert(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const { x25519, ed25519 } = body
    if (typeof x25519 !== 'string' || !HEX32.test(x25519) || typeof ed25519 !== 'string' || !HEX32.test(ed25519)) {
      this.#count('sender_cert', 'bad_request')
      return err(400, 'M_INVALID_PARAM', 'x25519 and ed25519 must be 64 lowercase hex characters')
    }
    const who = await this.#caller('sender_cert', token, body.device_id)
    if ('status' in who) return who
    const now = this.o.now()
    const cert = signSenderCert(
      this.o.crypto,
      {
        signerKeyId: this.o.keys.serverCert.keyId,
        issuedMs: now,
        expiresMs: now + SENDER_CERT_LIFETIME_MS,
        senderX25519: Buffer.from(x25519, 'hex'),
        senderEd25519: Buffer.from(ed25519, 'hex'),
        userId: who.userId,
        deviceId: who.deviceId
      },
      this.o.keys.issuing.secretKey
    )
    this.#count('sender_cert', 'ok')
    return {
      status: 200,
      body: {
        sender_cert: cert.encoded.toString('base64'),
        server_cert: this.o.keys.serverCert.encoded.toString('base64'),
        expires_ms: cert.expiresMs
      }
    }
  }

  async capability(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const { key_id: keyId, public_key: publicKey, block } = body
    if (
      (block !== undefined && typeof block !== 'boolean') ||
      typeof keyId !== 'number' ||
      !Number.isInteger(keyId) ||
      keyId < 0 ||
      keyId > 0xffffffff ||
      typeof publicKey !== 'string' ||
      !HEX32.test(publicKey)
    ) {
      this.#count('capability', 'bad_request')
      return err(
        400,
        'M_INVALID_PARAM',
        'key_id must be a u32, public_key 64 lowercase hex characters and block a boolean'
      )
    }
    const who = await this.#caller('capability', token, body.device_id)
    if ('status' in who) return who
    // A block ends the previous key at once: whoever held it can no longer deliver to this device.
    const set = await this.o.store.setCapability(
      `${who.userId}/${who.deviceId}`,
      keyId,
      Buffer.from(publicKey, 'hex'),
      this.o.now(),
      block === true
    )
    if (set === 'stale') {
      this.#count('capability', 'stale')
      return err(
        409,
        'SEALMIX_STALE_KEY',
        'a newer capability key is registered for this device: this key was rotated out (rotate again to replace it)'
      )
    }
    this.#count('capability', 'ok')
    return { status: 200, body: {} }
  }

  /**
   * Register a room's send key, or rotate it: the caller must be joined to the room (asked of the
   * homeserver with the caller's own token), the ingress's bot must be able to join it (a member
   * invited it), and a rotation must carry the current key's signature over its successor. The
   * replaced key stays valid for the rotation grace, or not at all for a block.
   */
  async roomKey(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const count = (result: ApiResult): void => this.#count('room_key', result)
    const { room_id: roomId, key_id: keyId, public_key: publicKey, proof, block } = body
    if (
      typeof roomId !== 'string' ||
      !isRoomId(roomId) ||
      typeof keyId !== 'number' ||
      !Number.isInteger(keyId) ||
      keyId < 0 ||
      keyId > 0xffffffff ||
      typeof publicKey !== 'string' ||
      !HEX32.test(publicKey) ||
      (proof !== undefined && (typeof proof !== 'string' || !HEX64.test(proof))) ||
      (block !== undefined && typeof block !== 'boolean')
    ) {
      count('bad_request')
      return err(
        400,
        'M_INVALID_PARAM',
        'room_id must be a room id, key_id a u32, public_key 64 and proof 128 lowercase hex characters, block a boolean'
      )
    }
    // A room's key lives at the ingress of the room's own server, whose bot alone posts its messages.
    if (roomIdDomain(roomId) !== this.o.serverName) {
      count('foreign_room')
      return err(403, 'SEALMIX_FOREIGN_ROOM', "the room's key is registered with the ingress of the room's own server")
    }
    const user = await this.#member('room_key', token, roomId)
    if (user.kind === 'answer') return user.answer
    const hs = this.o.homeserver
    try {
      if (!(await joinAsBot({ url: hs.url, token: hs.asToken, timeoutMs: hs.timeoutMs }, this.o.botUserId, roomId))) {
        count('bot_not_invited')
        return err(403, 'SEALMIX_BOT_NOT_INVITED', `invite ${this.o.botUserId} to the room first`)
      }
    } catch {
      count('homeserver_error')
      return err(502, 'SEALMIX_HOMESERVER', 'the homeserver did not answer')
    }
    const pk = Buffer.from(publicKey, 'hex')
    const isBlock = block === true
    const result = await this.o.store.setRoomKey(roomId, { keyId, publicKey: pk }, this.o.now(), {
      userId: user.userId,
      graceMs: isBlock ? 0 : this.#graceMs,
      verified: cur =>
        typeof proof === 'string' &&
        verifyRoomKeyRotation(this.o.crypto, cur.publicKey, roomId, keyId, pk, isBlock, Buffer.from(proof, 'hex'))
    })
    count(result)
    if (result === 'no_proof')
      return err(403, 'SEALMIX_ROTATION_UNPROVEN', "a rotation must be signed by the room's current send key")
    if (result === 'key_id_reused') return err(400, 'M_INVALID_PARAM', 'a new room send key needs a new key_id')
    if (result === 'full') return err(503, 'SEALMIX_ROOMS_FULL', 'this ingress holds keys for as many rooms as it may')
    if (result === 'user_full')
      return err(403, 'SEALMIX_ROOMS_FULL', 'this user has registered the keys of as many rooms as one user may')
    return { status: 200, body: { result } }
  }

  /** The room's current send key, for a member checking a shared key: asked with the member's own token. */
  async currentRoomKey(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const count = (result: ApiResult): void => this.#count('room_key_current', result)
    const roomId = body.room_id
    if (typeof roomId !== 'string' || !isRoomId(roomId)) {
      count('bad_request')
      return err(400, 'M_INVALID_PARAM', 'room_id must be a room id')
    }
    const member = await this.#member('room_key_current', token, roomId)
    if (member.kind === 'answer') return member.answer
    const cur = this.o.store.currentRoomKey(roomId)
    count('ok')
    return {
      status: 200,
      body: cur === undefined ? { key_id: null } : { key_id: cur.keyId, public_key: cur.publicKey.toString('hex') }
    }
  }
}
