/**
 * Sender and recipient sides of a sealed message: compose and seal an Inner; open an envelope and
 * run every verification step of docs/PROTOCOL.md §14 in order, each failing with its own code.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import type { Rng } from '../rng.ts'
import {
  parseSenderCert,
  parseServerCert,
  SENDER_CERT_LABEL,
  SENDER_CERT_LIFETIME_MS,
  SERVER_CERT_LABEL,
  type SenderCert,
  type ServerCert,
  userIdDomain
} from './certs.ts'
import { fail, ok, type Result } from './codec.ts'
import { ENVELOPE_V1, openV1, sealV1, type X25519KeyPair } from './envelope-v1.ts'
import { ENVELOPE_V2, openV2, type SealedV2, sealV2, verifyV2Sender } from './envelope-v2.ts'
import type { SealCode } from './errors.ts'
import { encodeInner, parseInner } from './inner.ts'

/** Default clock-skew tolerance for certificate times (docs/PROTOCOL.md §11). */
export const DEFAULT_SKEW_MS = 5 * 60 * 1000

export interface OutgoingMessage {
  readonly contentType: number
  readonly contentHint?: number
  readonly content: Uint8Array
  readonly groupId?: Uint8Array
  readonly senderCert: SenderCert
  /** Embed the ServerCert (default), or send it by reference to signer_key_id. */
  readonly serverCert?: ServerCert
}

function inner(m: OutgoingMessage): Buffer {
  return encodeInner({
    contentType: m.contentType,
    contentHint: m.contentHint ?? 0,
    senderCert: m.senderCert.encoded,
    serverCert: m.serverCert?.encoded ?? Buffer.alloc(0),
    groupId: m.groupId ?? Buffer.alloc(0),
    content: m.content
  })
}

/** Seal a message to one recipient device (envelope v1). */
export function sealMessage(
  c: CryptoSuite,
  m: OutgoingMessage,
  sender: X25519KeyPair,
  recipientPk: Uint8Array,
  rng: Rng
): Buffer {
  return sealV1(c, inner(m), sender, recipientPk, rng)
}

/** Seal a message to many recipient devices at once (envelope v2). */
export function sealMessageV2(
  c: CryptoSuite,
  m: OutgoingMessage,
  sender: X25519KeyPair,
  recipientPks: readonly Uint8Array[],
  rng: Rng
): SealedV2 {
  return sealV2(c, inner(m), sender, recipientPks, rng)
}

export interface TrustStore {
  /** Pinned Ed25519 trust roots for a server name; empty when none is pinned. */
  roots(serverName: string): readonly Uint8Array[]
  /** A cached ServerCert of that server, for certificates sent by reference. */
  serverCert(serverName: string, keyId: number): ServerCert | undefined
  /** Revoked ServerCert key IDs of that server. */
  isRevoked(serverName: string, keyId: number): boolean
}

export interface VerifyOptions {
  readonly nowMs: number
  readonly skewMs?: number
  /** The recipient's own user and device: a message from them is refused (step 6). */
  readonly self?: { readonly userId: string; readonly deviceId: string }
  /** Optional step 7: the device keys published for (user, device), e.g. from /keys/query. */
  readonly deviceKeys?: (userId: string, deviceId: string) => { ed25519: Uint8Array; x25519: Uint8Array } | undefined
}

export interface VerifiedMessage {
  readonly envelopeVersion: 1 | 2
  readonly sender: {
    readonly userId: string
    readonly deviceId: string
    readonly serverName: string
    readonly x25519: Buffer
    readonly ed25519: Buffer
  }
  readonly contentType: number
  readonly contentHint: number
  readonly groupId: Buffer
  readonly content: Buffer
}

/** Verify ServerCert under every pinned root with a constant-time accumulator (no early exit). */
function verifiedByAnyRoot(c: CryptoSuite, cert: ServerCert, roots: readonly Uint8Array[]): boolean {
  const msg = Buffer.concat([SERVER_CERT_LABEL, cert.body])
  let acc = 0
  for (const root of roots) acc |= c.verifyDetached(cert.signature, msg, root) ? 1 : 0
  return acc === 1
}

function checkChain(
  c: CryptoSuite,
  sc: SenderCert,
  embedded: Uint8Array,
  trust: TrustStore,
  o: VerifyOptions
): Result<ServerCert, SealCode> {
  const skew = o.skewMs ?? DEFAULT_SKEW_MS
  const domain = userIdDomain(sc.userId)
  if (domain === null) return fail('SEAL_SENDER_CERT_MALFORMED', 'user_id')
  // Step 3: resolve the ServerCert, embedded or by reference; chain, revocation and validity.
  let server: ServerCert
  if (embedded.length > 0) {
    const p = parseServerCert(embedded)
    if (!p.ok) return p
    server = p.value
  } else {
    const cached = trust.serverCert(domain, sc.signerKeyId)
    if (cached === undefined) return fail('SEAL_SERVER_CERT_UNKNOWN')
    server = cached
  }
  if (server.keyId !== sc.signerKeyId) return fail('SEAL_SIGNER_MISMATCH')
  if (!verifiedByAnyRoot(c, server, trust.roots(server.serverName))) return fail('SEAL_SERVER_CERT_UNTRUSTED')
  if (trust.isRevoked(server.serverName, server.keyId)) return fail('SEAL_SERVER_CERT_REVOKED')
  if (o.nowMs < server.notBeforeMs) return fail('SEAL_SERVER_CERT_NOT_YET_VALID')
  if (o.nowMs > server.notAfterMs) return fail('SEAL_SERVER_CERT_EXPIRED')
  // Step 4: evil.org must not vouch for @alice:good.org.
  if (domain !== server.serverName) return fail('SEAL_DOMAIN_MISMATCH')
  // Step 5: the SenderCert under the issuing key, and its times.
  if (!c.verifyDetached(sc.signature, Buffer.concat([SENDER_CERT_LABEL, sc.body]), server.issuingKey))
    return fail('SEAL_SENDER_CERT_BAD_SIGNATURE')
  if (sc.issuedMs > o.nowMs + skew) return fail('SEAL_SENDER_CERT_FROM_FUTURE')
  if (o.nowMs > sc.expiresMs) return fail('SEAL_SENDER_CERT_EXPIRED')
  if (sc.expiresMs <= sc.issuedMs || sc.expiresMs - sc.issuedMs > SENDER_CERT_LIFETIME_MS)
    return fail('SEAL_SENDER_CERT_LIFETIME')
  return ok(server)
}

/**
 * Open an envelope addressed to this device and verify it (docs/PROTOCOL.md §14 steps 1-7).
 * Steps 8-9 (the inner Olm/Megolm/MLS layer and the UI) belong to the chat client.
 */
export function openMessage(
  c: CryptoSuite,
  wire: Uint8Array,
  recipient: X25519KeyPair,
  trust: TrustStore,
  o: VerifyOptions
): Result<VerifiedMessage, SealCode> {
  // Step 1: open v1 or v2; AEAD failures are hard failures. Unpad.
  let paddedInner: Buffer
  let bind: (senderPk: Uint8Array) => boolean
  let version: 1 | 2
  if (wire[0] === ENVELOPE_V1) {
    const r = openV1(c, wire, recipient)
    if (!r.ok) return r
    paddedInner = r.value.paddedInner
    const senderPk = r.value.senderPk
    bind = pk => c.equal(pk, senderPk)
    version = 1
  } else if (wire[0] === ENVELOPE_V2) {
    const r = openV2(c, wire, recipient)
    if (!r.ok) return r
    paddedInner = r.value.paddedInner
    const opened = r.value
    bind = pk => verifyV2Sender(c, opened, recipient, pk)
    version = 2
  } else {
    return fail('SEAL_ENVELOPE_MALFORMED', 'version')
  }
  const inner = parseInner(paddedInner)
  if (!inner.ok) return inner
  // Step 2: the SenderCert's key must be the key that sealed the envelope.
  const sc = parseSenderCert(inner.value.senderCert)
  if (!sc.ok) return sc
  const cert = sc.value
  if (!bind(cert.senderX25519)) return fail(version === 1 ? 'SEAL_KEY_BINDING_MISMATCH' : 'SEAL_V2_AUTH_FAILED')
  // Steps 3-5.
  const chain = checkChain(c, cert, inner.value.serverCert, trust, o)
  if (!chain.ok) return chain
  // Step 6: no self-sends.
  if (o.self !== undefined && o.self.userId === cert.userId && o.self.deviceId === cert.deviceId)
    return fail('SEAL_SELF_SEND')
  // Step 7 (optional): the certificate's keys are the device's published keys.
  if (o.deviceKeys !== undefined) {
    const dk = o.deviceKeys(cert.userId, cert.deviceId)
    if (dk === undefined || !c.equal(dk.ed25519, cert.senderEd25519) || !c.equal(dk.x25519, cert.senderX25519))
      return fail('SEAL_DEVICE_KEYS_MISMATCH')
  }
  return ok({
    envelopeVersion: version,
    sender: {
      userId: cert.userId,
      deviceId: cert.deviceId,
      serverName: chain.value.serverName,
      x25519: Buffer.from(cert.senderX25519),
      ed25519: Buffer.from(cert.senderEd25519)
    },
    contentType: inner.value.contentType,
    contentHint: inner.value.contentHint,
    groupId: Buffer.from(inner.value.groupId),
    content: Buffer.from(inner.value.content)
  })
}
