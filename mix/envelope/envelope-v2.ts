/**
 * Envelope v2 (docs/PROTOCOL.md §13): one ciphertext for many recipient devices, Signal's SSv2
 * randomness-reuse KEM on libsodium. Per device: 0x22 ‖ C_i(32) ‖ AT_i(16) ‖ E_pk(32) ‖ ct.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import type { Rng } from '../rng.ts'
import { fail, ok, type Result } from './codec.ts'
import type { X25519KeyPair } from './envelope-v1.ts'
import type { SealCode } from './errors.ts'

export const ENVELOPE_V2 = 0x22
export const V2_OVERHEAD = 1 + 32 + 16 + 32 + 16
const L_DH = Buffer.from('MXSS-v2 DH', 'latin1')
const L_DH_SENDER = Buffer.from('MXSS-v2 DH-sender', 'latin1')
const NONCE0 = Buffer.alloc(24)
const AD = Buffer.of(ENVELOPE_V2)

export interface V2Copy {
  readonly recipientPk: Buffer
  /** C_i ‖ AT_i, the 48 bytes specific to this device. */
  readonly c: Buffer
  readonly at: Buffer
}

export interface SealedV2 {
  readonly ePk: Buffer
  readonly ct: Buffer
  readonly copies: V2Copy[]
}

function derive(c: CryptoSuite, m: Uint8Array): { r: Buffer; k: Buffer } {
  const r = Buffer.alloc(32)
  const k = Buffer.alloc(32)
  c.kdfDerive(r, 1, 'MXSSv2rk', m)
  c.kdfDerive(k, 2, 'MXSSv2rk', m)
  return { r, k }
}

function hash(c: CryptoSuite, n: number, ...parts: Uint8Array[]): Buffer {
  const out = Buffer.alloc(n)
  c.blake2b(out, Buffer.concat(parts))
  return out
}

export function sealV2(
  c: CryptoSuite,
  paddedInner: Uint8Array,
  sender: X25519KeyPair,
  recipients: readonly Uint8Array[],
  rng: Rng
): SealedV2 {
  if (recipients.length === 0) throw MixError.BAD_ARGUMENT('a v2 envelope needs at least one recipient')
  const m = rng.bytes(32)
  const { r, k } = derive(c, m)
  const ePk = Buffer.alloc(32)
  c.x25519Base(ePk, r)
  const dh = Buffer.alloc(32)
  const copies: V2Copy[] = recipients.map(rPk => {
    if (!c.x25519(dh, r, rPk)) throw MixError.LOW_ORDER_KEY()
    const ci = hash(c, 32, L_DH, dh, ePk, rPk)
    for (let i = 0; i < 32; i++) ci[i] = ci[i]! ^ m[i]!
    if (!c.x25519(dh, sender.secretKey, rPk)) throw MixError.LOW_ORDER_KEY()
    const at = hash(c, 16, L_DH_SENDER, dh, ePk, ci, sender.publicKey, rPk)
    return { recipientPk: Buffer.from(rPk), c: ci, at }
  })
  const ct = Buffer.from(c.aeadEncrypt(paddedInner, AD, NONCE0, k))
  for (const b of [m, r, k, dh]) b.fill(0)
  return { ePk, ct, copies }
}

/** The bytes delivered to one device. */
export function v2CopyWire(s: { ePk: Uint8Array; ct: Uint8Array }, copy: { c: Uint8Array; at: Uint8Array }): Buffer {
  return Buffer.concat([Buffer.of(ENVELOPE_V2), copy.c, copy.at, s.ePk, s.ct])
}

export interface OpenedV2 {
  readonly paddedInner: Buffer
  readonly ePk: Buffer
  readonly c: Buffer
  readonly at: Buffer
}

export function openV2(c: CryptoSuite, wire: Uint8Array, recipient: X25519KeyPair): Result<OpenedV2, SealCode> {
  if (wire.length < V2_OVERHEAD || wire[0] !== ENVELOPE_V2) return fail('SEAL_ENVELOPE_MALFORMED')
  const ci = wire.subarray(1, 33)
  const at = wire.subarray(33, 49)
  const ePk = wire.subarray(49, 81)
  const ct = wire.subarray(81)
  const dh = Buffer.alloc(32)
  if (!c.x25519(dh, recipient.secretKey, ePk)) return fail('SEAL_LOW_ORDER_KEY')
  const m = hash(c, 32, L_DH, dh, ePk, recipient.publicKey)
  dh.fill(0)
  for (let i = 0; i < 32; i++) m[i] = m[i]! ^ ci[i]!
  const { r, k } = derive(c, m)
  const check = Buffer.alloc(32)
  c.x25519Base(check, r)
  m.fill(0)
  r.fill(0)
  if (!c.equal(check, ePk)) {
    k.fill(0)
    return fail('SEAL_V2_KEY_MISMATCH')
  }
  const inner = c.aeadDecrypt(ct, AD, NONCE0, k)
  k.fill(0)
  if (inner === null) return fail('SEAL_DECRYPT_FAILED', 'message')
  return ok({ paddedInner: Buffer.from(inner), ePk: Buffer.from(ePk), c: Buffer.from(ci), at: Buffer.from(at) })
}

/**
 * Open step 4: recompute AT_i with the sender key the (not yet trusted) SenderCert names;
 * X25519(R_sk, S_pk) equals the sender's X25519(S_sk, R_pk). Constant-time compare.
 */
export function verifyV2Sender(
  c: CryptoSuite,
  opened: OpenedV2,
  recipient: X25519KeyPair,
  senderPk: Uint8Array
): boolean {
  const d = Buffer.alloc(32)
  if (!c.x25519(d, recipient.secretKey, senderPk)) return false
  const want = hash(c, 16, L_DH_SENDER, d, opened.ePk, opened.c, senderPk, recipient.publicKey)
  d.fill(0)
  return c.equal(want, opened.at)
}
