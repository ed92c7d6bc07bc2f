/**
 * Envelope v1 (docs/PROTOCOL.md §13): one recipient device. An ephemeral-static layer hides the
 * sender's static key; a static-static layer, chained to it, authenticates the sender deniably.
 * wire = 0x11 ‖ e_pk(32) ‖ c_static(48) ‖ c_msg(|padded inner| + 16); 97 bytes of overhead.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import type { Rng } from '../rng.ts'
import { fail, ok, type Result } from './codec.ts'
import type { SealCode } from './errors.ts'

export const ENVELOPE_V1 = 0x11
export const V1_OVERHEAD = 1 + 32 + 48 + 16
const L_EPH = Buffer.from('MXSS-v1 eph', 'latin1')
const L_STATIC = Buffer.from('MXSS-v1 static', 'latin1')

export interface X25519KeyPair {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

interface EphKeys {
  chain: Buffer
  ke: Buffer
  ne: Buffer
}

function ephKeys(c: CryptoSuite, dh1: Uint8Array, ePk: Uint8Array, rPk: Uint8Array): EphKeys {
  const k1 = Buffer.alloc(32)
  c.blake2b(k1, Buffer.concat([L_EPH, dh1, ePk, rPk]))
  const chain = Buffer.alloc(32)
  const ke = Buffer.alloc(32)
  const ne = Buffer.alloc(24)
  c.kdfDerive(chain, 1, 'MXSSeph1', k1)
  c.kdfDerive(ke, 2, 'MXSSeph1', k1)
  c.kdfDerive(ne, 3, 'MXSSeph1', k1)
  k1.fill(0)
  return { chain, ke, ne }
}

function staticKeys(
  c: CryptoSuite,
  dh2: Uint8Array,
  cStatic: Uint8Array,
  chain: Uint8Array
): { ks: Buffer; ns: Buffer } {
  const k2 = Buffer.alloc(32)
  c.blake2b(k2, Buffer.concat([L_STATIC, dh2, cStatic]), chain)
  const ks = Buffer.alloc(32)
  const ns = Buffer.alloc(24)
  c.kdfDerive(ks, 1, 'MXSSsta1', k2)
  c.kdfDerive(ns, 2, 'MXSSsta1', k2)
  k2.fill(0)
  return { ks, ns }
}

/** Seal a padded Inner from sender S to recipient device R. */
export function sealV1(
  c: CryptoSuite,
  paddedInner: Uint8Array,
  sender: X25519KeyPair,
  recipientPk: Uint8Array,
  rng: Rng
): Buffer {
  const eSk = rng.bytes(32)
  const ePk = Buffer.alloc(32)
  c.x25519Base(ePk, eSk)
  const dh1 = Buffer.alloc(32)
  if (!c.x25519(dh1, eSk, recipientPk)) throw MixError.LOW_ORDER_KEY()
  eSk.fill(0)
  const { chain, ke, ne } = ephKeys(c, dh1, ePk, recipientPk)
  const hdr = Buffer.concat([Buffer.of(ENVELOPE_V1), ePk])
  const cStatic = c.aeadEncrypt(sender.publicKey, Buffer.concat([hdr, recipientPk]), ne, ke)
  const dh2 = Buffer.alloc(32)
  if (!c.x25519(dh2, sender.secretKey, recipientPk)) throw MixError.LOW_ORDER_KEY()
  const { ks, ns } = staticKeys(c, dh2, cStatic, chain)
  const cMsg = c.aeadEncrypt(paddedInner, Buffer.concat([hdr, cStatic]), ns, ks)
  for (const b of [dh1, dh2, chain, ke, ks]) b.fill(0)
  return Buffer.concat([hdr, cStatic, cMsg])
}

export interface OpenedV1 {
  /** The sender's static X25519 key recovered from c_static. */
  readonly senderPk: Buffer
  readonly paddedInner: Buffer
}

/** Open with the recipient device's key pair. Any AEAD failure is a hard failure. */
export function openV1(c: CryptoSuite, wire: Uint8Array, recipient: X25519KeyPair): Result<OpenedV1, SealCode> {
  if (wire.length < V1_OVERHEAD || wire[0] !== ENVELOPE_V1) return fail('SEAL_ENVELOPE_MALFORMED')
  const hdr = wire.subarray(0, 33)
  const ePk = wire.subarray(1, 33)
  const cStatic = wire.subarray(33, 81)
  const cMsg = wire.subarray(81)
  const dh1 = Buffer.alloc(32)
  if (!c.x25519(dh1, recipient.secretKey, ePk)) return fail('SEAL_LOW_ORDER_KEY')
  const { chain, ke, ne } = ephKeys(c, dh1, ePk, recipient.publicKey)
  const senderPk = c.aeadDecrypt(cStatic, Buffer.concat([hdr, recipient.publicKey]), ne, ke)
  if (senderPk === null) return fail('SEAL_DECRYPT_FAILED', 'static')
  const dh2 = Buffer.alloc(32)
  if (!c.x25519(dh2, recipient.secretKey, senderPk)) return fail('SEAL_LOW_ORDER_KEY')
  const { ks, ns } = staticKeys(c, dh2, cStatic, chain)
  const inner = c.aeadDecrypt(cMsg, Buffer.concat([hdr, cStatic]), ns, ks)
  for (const b of [dh1, dh2, chain, ke, ks]) b.fill(0)
  if (inner === null) return fail('SEAL_DECRYPT_FAILED', 'message')
  return ok({ senderPk: Buffer.from(senderPk), paddedInner: Buffer.from(inner) })
}
