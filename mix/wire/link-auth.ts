/**
 * Link handshake (docs/PROTOCOL.md §17): both ends of a relay or ingress link prove their identity
 * key. Each side sends HELLO (role, id, fresh nonce); each then sends AUTH, an Ed25519 signature over
 * "sealmix-link-v0\0" ‖ u8 side ‖ own nonce ‖ peer nonce ‖ own id ‖ peer id, where side is 1 for
 * the dialer and 2 for the listener (so a signature cannot be reflected). Clients send HELLO with
 * role 'client' and an all-zero id and do not authenticate.
 */
import type { CryptoSuite } from '../crypto/suite.ts'

export const LINK_LABEL = Buffer.from('sealmix-link-v0\0', 'latin1')
export const LINK_VERSION = 1
export const HELLO_BYTES = 1 + 1 + 32 + 32
export const AUTH_BYTES = 64
export type LinkRole = 'relay' | 'ingress' | 'client'
const ROLE_CODE: Record<LinkRole, number> = { relay: 1, ingress: 2, client: 3 }
const CODE_ROLE: Record<number, LinkRole> = { 1: 'relay', 2: 'ingress', 3: 'client' }

export interface Hello {
  readonly role: LinkRole
  readonly id: Buffer
  readonly nonce: Buffer
}

export function encodeHello(h: Hello): Buffer {
  return Buffer.concat([Buffer.of(LINK_VERSION, ROLE_CODE[h.role]), h.id, h.nonce])
}

export function parseHello(b: Uint8Array): Hello | null {
  if (b.length < HELLO_BYTES || b[0] !== LINK_VERSION) return null
  const role = CODE_ROLE[b[1]!]
  if (role === undefined) return null
  return { role, id: Buffer.from(b.subarray(2, 34)), nonce: Buffer.from(b.subarray(34, 66)) }
}

function message(side: 1 | 2, own: Hello, peer: Hello): Buffer {
  return Buffer.concat([LINK_LABEL, Buffer.of(side), own.nonce, peer.nonce, own.id, peer.id])
}

export function signLink(c: CryptoSuite, side: 1 | 2, own: Hello, peer: Hello, identitySecretKey: Uint8Array): Buffer {
  return Buffer.from(c.signDetached(message(side, own, peer), identitySecretKey))
}

/** Verify the peer's AUTH: `peerSide` is the side the peer plays, `peerKey` its identity key from the network document. */
export function verifyLink(
  c: CryptoSuite,
  peerSide: 1 | 2,
  peer: Hello,
  own: Hello,
  signature: Uint8Array,
  peerKey: Uint8Array
): boolean {
  return c.verifyDetached(signature.subarray(0, AUTH_BYTES), message(peerSide, peer, own), peerKey)
}
