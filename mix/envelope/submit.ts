/**
 * SubmitRequest and delivery authorization (docs/PROTOCOL.md §15), sealed to the ingress with
 * crypto_box_seal so that the exit relay learns only which ingress to hand it to.
 *
 * SubmitRequest = u8 version (1) ‖ u8 kind ‖ lp16 dest ‖ lp16 auth ‖ envelope (the rest)
 *   kind 1 to one device (envelope v1, dest "@user:server/DEVICE", scheme 1 or 3);
 *   kind 2 to a room (a room batch, dest the room id, scheme 2 with the room send key)
 * auth          = u8 scheme ‖ scheme body
 *   scheme 1 capability, 2 group capability: u32 key_id ‖ u32 epoch_hour ‖ u8[64] signature
 *   scheme 3 bearer token: u8[32] token
 * signature     = Ed25519(cap_sk, "MXSS-v1 deliver\0" ‖ lp16(dest) ‖ u32 epoch_hour ‖ BLAKE2b-256(envelope))
 * epoch_hour    = floor(unix_ms / 3,600,000)
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import { fail, ok, parseWith, Reader, type Result, Writer } from './codec.ts'
import type { X25519KeyPair } from './envelope-v1.ts'
import type { SealCode } from './errors.ts'

export const SUBMIT_VERSION = 1
/** The Matrix event type under which an ingress delivers a sealed envelope to a device. */
export const SEALED_EVENT_TYPE = 'org.sealmix.sealed.v1'

export const KIND_TO_DEVICE_V1 = 1
export const KIND_ROOM = 2
export const SCHEME_CAPABILITY = 1
export const SCHEME_GROUP_CAPABILITY = 2
export const SCHEME_BEARER = 3
export const HOUR_MS = 3_600_000
const DELIVER_LABEL = Buffer.from('MXSS-v1 deliver\0', 'latin1')

export type DeliveryAuth =
  | {
      readonly scheme: 'capability' | 'group'
      readonly keyId: number
      readonly epochHour: number
      readonly signature: Buffer
    }
  | { readonly scheme: 'bearer'; readonly token: Buffer }

export interface SubmitRequest {
  readonly kind: typeof KIND_TO_DEVICE_V1 | typeof KIND_ROOM
  /** "@bob:example.org/DEVICEID" for kind 1; a room id for kind 2. */
  readonly dest: string
  readonly auth: DeliveryAuth
  readonly envelope: Buffer
}

export function epochHour(nowMs: number): number {
  return Math.floor(nowMs / HOUR_MS)
}

function deliverMessage(c: CryptoSuite, dest: string, hour: number, envelope: Uint8Array): Buffer {
  const h = Buffer.alloc(32)
  c.blake2b(h, envelope)
  return Buffer.concat([DELIVER_LABEL, new Writer().lp16(dest).u32(hour).done(), h])
}

/** Authorize one envelope for one destination in one hour with the recipient's capability key. */
export function signDelivery(
  c: CryptoSuite,
  capSecretKey: Uint8Array,
  keyId: number,
  dest: string,
  nowMs: number,
  envelope: Uint8Array,
  scheme: 'capability' | 'group' = 'capability'
): DeliveryAuth {
  const hour = epochHour(nowMs)
  return {
    scheme,
    keyId,
    epochHour: hour,
    signature: Buffer.from(c.signDetached(deliverMessage(c, dest, hour, envelope), capSecretKey))
  }
}

function encodeAuth(a: DeliveryAuth): Buffer {
  if (a.scheme === 'bearer') {
    if (a.token.length !== 32) throw MixError.BAD_ARGUMENT('a bearer token must be 32 bytes')
    return Buffer.concat([Buffer.of(SCHEME_BEARER), a.token])
  }
  return new Writer()
    .u8(a.scheme === 'capability' ? SCHEME_CAPABILITY : SCHEME_GROUP_CAPABILITY)
    .u32(a.keyId)
    .u32(a.epochHour)
    .bytes(a.signature)
    .done()
}

export function encodeSubmit(r: SubmitRequest): Buffer {
  return new Writer().u8(SUBMIT_VERSION).u8(r.kind).lp16(r.dest).lp16(encodeAuth(r.auth)).bytes(r.envelope).done()
}

export function parseSubmit(bytes: Uint8Array): Result<SubmitRequest, SealCode> {
  return parseWith('SEAL_SUBMIT_MALFORMED', () => {
    const r = new Reader(bytes)
    if (r.u8() !== SUBMIT_VERSION) return fail('SEAL_SUBMIT_UNSUPPORTED', 'version')
    const kind = r.u8()
    if (kind !== KIND_TO_DEVICE_V1 && kind !== KIND_ROOM) return fail('SEAL_SUBMIT_UNSUPPORTED', 'kind')
    const dest = r.text16()
    if (dest.length === 0) return fail('SEAL_SUBMIT_MALFORMED', 'dest')
    const a = new Reader(r.lp16())
    const scheme = a.u8()
    let auth: DeliveryAuth
    if (scheme === SCHEME_CAPABILITY || scheme === SCHEME_GROUP_CAPABILITY) {
      auth = {
        scheme: scheme === SCHEME_CAPABILITY ? 'capability' : 'group',
        keyId: a.u32(),
        epochHour: a.u32(),
        signature: a.bytes(64)
      }
    } else if (scheme === SCHEME_BEARER) {
      auth = { scheme: 'bearer', token: a.bytes(32) }
    } else {
      return fail('SEAL_SUBMIT_UNSUPPORTED', 'scheme')
    }
    a.end()
    // A room is authorized by its room send key only; a device by its capability (or a bearer token).
    if ((kind === KIND_ROOM) !== (auth.scheme === 'group')) return fail('SEAL_SUBMIT_MALFORMED', 'scheme for kind')
    const envelope = r.rest()
    if (envelope.length === 0) return fail('SEAL_SUBMIT_MALFORMED', 'envelope')
    return ok({ kind, dest, auth, envelope })
  })
}

/** Seal a SubmitRequest to the ingress's X25519 box key (48 bytes of overhead). */
export function sealSubmit(c: CryptoSuite, r: SubmitRequest, ingressPk: Uint8Array): Buffer {
  return Buffer.from(c.boxSeal(encodeSubmit(r), ingressPk))
}

/** Ingress step 1: open the box and parse strictly. */
export function openSubmit(
  c: CryptoSuite,
  sealed: Uint8Array,
  ingress: X25519KeyPair
): Result<SubmitRequest, SealCode> {
  const pt = c.boxSealOpen(sealed, ingress.publicKey, ingress.secretKey)
  if (pt === null) return fail('SEAL_SUBMIT_UNOPENABLE')
  return parseSubmit(pt)
}

/** What the ingress holds for one local destination. */
export interface DestinationAuth {
  /** Current and (within its 24 h grace) previous capability public keys. */
  readonly capabilityKeys: ReadonlyArray<{ readonly keyId: number; readonly publicKey: Uint8Array }>
  /** BLAKE2b-256 hashes of accepted bearer tokens (the fallback of §9). */
  readonly bearerHashes?: readonly Uint8Array[]
}

export interface DeliveryCheck {
  readonly nowMs: number
  /** Returns undefined for a destination that is not local or does not exist. */
  lookup(dest: string): DestinationAuth | undefined
  /** Envelope-hash replay cache of the current window: true if seen before (and insert it). */
  seen(envelopeHash: Buffer): boolean
}

/** A fixed stand-in key for unknown destinations: the work is done, the result ignored, the request refused. */
const UNKNOWN_DEST_KEY = Buffer.from('5866666666666666666666666666666666666666666666666666666666666666', 'hex')

export type DenyDetail = 'unknown_destination' | 'unknown_key' | 'bad_signature' | 'stale_hour' | 'replay' | 'bad_token'

/**
 * Ingress steps 2-3. Every refusal has the one public code SEAL_AUTH_DENIED, so that a sender
 * cannot tell an unknown destination from a bad signature (Signal answers 401, never 404);
 * `detail` is for the ingress's own counters and tests, never for the sender.
 */
export function checkDelivery(
  c: CryptoSuite,
  r: SubmitRequest,
  chk: DeliveryCheck
): Result<{ envelopeHash: Buffer }, 'SEAL_AUTH_DENIED'> {
  const deny = (d: DenyDetail): Result<{ envelopeHash: Buffer }, 'SEAL_AUTH_DENIED'> => fail('SEAL_AUTH_DENIED', d)
  // An unknown destination goes through the same work as a known one before it is refused.
  const known = chk.lookup(r.dest)
  const da: DestinationAuth = known ?? {
    capabilityKeys: r.auth.scheme === 'bearer' ? [] : [{ keyId: r.auth.keyId, publicKey: UNKNOWN_DEST_KEY }]
  }
  const envelopeHash = Buffer.alloc(32)
  c.blake2b(envelopeHash, r.envelope)
  const a = r.auth
  let refused: DenyDetail | null = null
  if (a.scheme === 'bearer') {
    const h = Buffer.alloc(32)
    c.blake2b(h, a.token)
    let acc = 0
    for (const want of da.bearerHashes ?? []) acc |= c.equal(h, want) ? 1 : 0
    if (acc !== 1) refused = 'bad_token'
  } else {
    const key = da.capabilityKeys.find(k => k.keyId === a.keyId)
    if (key === undefined) refused = 'unknown_key'
    else if (Math.abs(a.epochHour - epochHour(chk.nowMs)) > 1) refused = 'stale_hour'
    else if (!c.verifyDetached(a.signature, deliverMessage(c, r.dest, a.epochHour, r.envelope), key.publicKey))
      refused = 'bad_signature'
  }
  if (known === undefined) return deny('unknown_destination')
  if (refused !== null) return deny(refused)
  if (chk.seen(envelopeHash)) return deny('replay')
  return ok({ envelopeHash })
}
