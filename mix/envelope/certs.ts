/**
 * ServerCert and SenderCert (docs/PROTOCOL.md §11): encoding, signing and strict parsing.
 * The chain checks live in recipient.ts.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import { fail, ok, parseWith, Reader, type Result, Writer } from './codec.ts'
import type { SealCode } from './errors.ts'

export const CERT_VERSION = 1
export const SERVER_CERT_LABEL = Buffer.from('MXSS-v1 server-cert\0', 'latin1')
export const SENDER_CERT_LABEL = Buffer.from('MXSS-v1 sender-cert\0', 'latin1')
/** A SenderCert lives 24 hours (docs/PROTOCOL.md §11). */
export const SENDER_CERT_LIFETIME_MS = 24 * 3600 * 1000

export interface ServerCertBody {
  readonly keyId: number
  readonly notBeforeMs: number
  readonly notAfterMs: number
  /** Ed25519 public key that signs SenderCerts. */
  readonly issuingKey: Uint8Array
  readonly serverName: string
}

export interface ServerCert extends ServerCertBody {
  /** The signed bytes (everything before the signature). */
  readonly body: Buffer
  readonly signature: Buffer
  /** The whole encoded certificate. */
  readonly encoded: Buffer
}

export interface SenderCertBody {
  readonly signerKeyId: number
  readonly issuedMs: number
  readonly expiresMs: number
  /** The sender device's X25519 key: must equal the envelope's static key. */
  readonly senderX25519: Uint8Array
  /** The sender device's Ed25519 (Olm fingerprint) key. */
  readonly senderEd25519: Uint8Array
  readonly userId: string
  readonly deviceId: string
}

export interface SenderCert extends SenderCertBody {
  readonly body: Buffer
  readonly signature: Buffer
  readonly encoded: Buffer
}

function key32(what: string, k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== 32) throw MixError.BAD_ARGUMENT(`${what} must be 32 bytes`)
}

function time(what: string, t: number): void {
  if (!Number.isSafeInteger(t) || t < 0)
    throw MixError.BAD_ARGUMENT(`${what} must be a non-negative integer of milliseconds`)
}

export function encodeServerCertBody(b: ServerCertBody): Buffer {
  key32('issuingKey', b.issuingKey)
  time('notBeforeMs', b.notBeforeMs)
  time('notAfterMs', b.notAfterMs)
  return new Writer()
    .u8(CERT_VERSION)
    .u32(b.keyId)
    .u64(b.notBeforeMs)
    .u64(b.notAfterMs)
    .bytes(b.issuingKey)
    .lp16(b.serverName)
    .done()
}

/** Issue a ServerCert with the homeserver's root (Ed25519 secret key, 64 bytes). */
export function signServerCert(c: CryptoSuite, b: ServerCertBody, rootSecretKey: Uint8Array): ServerCert {
  const body = encodeServerCertBody(b)
  const signature = Buffer.from(c.signDetached(Buffer.concat([SERVER_CERT_LABEL, body]), rootSecretKey))
  return { ...b, issuingKey: Buffer.from(b.issuingKey), body, signature, encoded: Buffer.concat([body, signature]) }
}

export function parseServerCert(bytes: Uint8Array): Result<ServerCert, SealCode> {
  return parseWith('SEAL_SERVER_CERT_MALFORMED', () => {
    const r = new Reader(bytes)
    if (r.u8() !== CERT_VERSION) return fail('SEAL_SERVER_CERT_MALFORMED', 'version')
    const keyId = r.u32()
    const notBeforeMs = r.u64()
    const notAfterMs = r.u64()
    const issuingKey = r.bytes(32)
    const serverName = r.text16()
    const bodyLen = r.offset
    const signature = r.bytes(64)
    r.end()
    const body = Buffer.from(bytes.subarray(0, bodyLen))
    return ok({ keyId, notBeforeMs, notAfterMs, issuingKey, serverName, body, signature, encoded: Buffer.from(bytes) })
  })
}

export function encodeSenderCertBody(b: SenderCertBody): Buffer {
  key32('senderX25519', b.senderX25519)
  key32('senderEd25519', b.senderEd25519)
  time('issuedMs', b.issuedMs)
  time('expiresMs', b.expiresMs)
  return new Writer()
    .u8(CERT_VERSION)
    .u32(b.signerKeyId)
    .u64(b.issuedMs)
    .u64(b.expiresMs)
    .bytes(b.senderX25519)
    .bytes(b.senderEd25519)
    .lp16(b.userId)
    .lp16(b.deviceId)
    .done()
}

/** Issue a SenderCert with the ServerCert's issuing key (Ed25519 secret key, 64 bytes). */
export function signSenderCert(c: CryptoSuite, b: SenderCertBody, issuingSecretKey: Uint8Array): SenderCert {
  const body = encodeSenderCertBody(b)
  const signature = Buffer.from(c.signDetached(Buffer.concat([SENDER_CERT_LABEL, body]), issuingSecretKey))
  return {
    ...b,
    senderX25519: Buffer.from(b.senderX25519),
    senderEd25519: Buffer.from(b.senderEd25519),
    body,
    signature,
    encoded: Buffer.concat([body, signature])
  }
}

export function parseSenderCert(bytes: Uint8Array): Result<SenderCert, SealCode> {
  return parseWith('SEAL_SENDER_CERT_MALFORMED', () => {
    const r = new Reader(bytes)
    if (r.u8() !== CERT_VERSION) return fail('SEAL_SENDER_CERT_MALFORMED', 'version')
    const signerKeyId = r.u32()
    const issuedMs = r.u64()
    const expiresMs = r.u64()
    const senderX25519 = r.bytes(32)
    const senderEd25519 = r.bytes(32)
    const userId = r.text16()
    const deviceId = r.text16()
    const bodyLen = r.offset
    const signature = r.bytes(64)
    r.end()
    const body = Buffer.from(bytes.subarray(0, bodyLen))
    return ok({
      signerKeyId,
      issuedMs,
      expiresMs,
      senderX25519,
      senderEd25519,
      userId,
      deviceId,
      body,
      signature,
      encoded: Buffer.from(bytes)
    })
  })
}

/** The server part of a Matrix user ID ("@alice:example.org" -> "example.org"), or null. */
export function userIdDomain(userId: string): string | null {
  if (!userId.startsWith('@')) return null
  const i = userId.indexOf(':')
  if (i < 2 || i === userId.length - 1) return null
  return userId.slice(i + 1)
}
