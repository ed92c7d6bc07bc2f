/**
 * Both halves of the link handshake over a ws socket (frames of mix/wire/frames.ts, messages of
 * mix/wire/link-auth.ts). The listener learns and authenticates the dialer's id; the dialer checks that
 * it reached the relay it meant to reach. Any failure closes with 1008 (policy violation).
 */
import type WebSocket from 'ws'
import type { FrameReader } from './frame-reader.ts'
import { encodeFrame, encodeHello, FRAME, parseFrame, parseHello, signLink, verifyLink, type CryptoSuite, type Geometry, type Hello, type LinkRole } from '../../mix/index.ts'

export interface Identity { readonly id: Buffer, readonly secretKey: Uint8Array }

async function nextFrame (r: FrameReader, g: Geometry, timeoutMs: number): Promise<{ kind: number, body: Buffer } | null> {
  const m = await r.next(timeoutMs)
  return m === null || !m.isBinary ? null : parseFrame(g, m.data)
}

/** Dialer side: send HELLO, check the listener's HELLO and AUTH against `peerKey`, send AUTH. */
export async function dialHandshake (c: CryptoSuite, g: Geometry, ws: WebSocket, r: FrameReader, me: Identity, role: LinkRole, peerId: Buffer, peerKey: Uint8Array, timeoutMs: number): Promise<boolean> {
  const mine: Hello = { role, id: me.id, nonce: randomNonce(c) }
  ws.send(encodeFrame(g, FRAME.HELLO, encodeHello(mine)))
  const h = await nextFrame(r, g, timeoutMs)
  const theirs = h?.kind === FRAME.HELLO ? parseHello(h.body) : null
  if (theirs === null || !theirs.id.equals(peerId)) return false
  const a = await nextFrame(r, g, timeoutMs)
  if (a?.kind !== FRAME.AUTH || !verifyLink(c, 2, theirs, mine, a.body, peerKey)) return false
  ws.send(encodeFrame(g, FRAME.AUTH, signLink(c, 1, mine, theirs, me.secretKey)))
  return true
}

/**
 * Listener side for authenticated links: read HELLO, look the dialer up, answer HELLO and AUTH,
 * check the dialer's AUTH. Returns the dialer's id, or null.
 */
export async function acceptHandshake (c: CryptoSuite, g: Geometry, ws: WebSocket, r: FrameReader, me: Identity, role: LinkRole, keyOf: (id: string) => Uint8Array | undefined, timeoutMs: number): Promise<string | null> {
  const h = await nextFrame(r, g, timeoutMs)
  const theirs = h?.kind === FRAME.HELLO ? parseHello(h.body) : null
  if (theirs === null || theirs.role !== role) return null
  const key = keyOf(theirs.id.toString('hex'))
  if (key === undefined) return null
  const mine: Hello = { role: 'relay', id: me.id, nonce: randomNonce(c) }
  ws.send(encodeFrame(g, FRAME.HELLO, encodeHello(mine)))
  ws.send(encodeFrame(g, FRAME.AUTH, signLink(c, 2, mine, theirs, me.secretKey)))
  const a = await nextFrame(r, g, timeoutMs)
  if (a?.kind !== FRAME.AUTH || !verifyLink(c, 1, theirs, mine, a.body, key)) return null
  return theirs.id.toString('hex')
}

/** Listener side for clients: a HELLO with role client, nothing to authenticate. */
export async function acceptClient (g: Geometry, r: FrameReader, timeoutMs: number): Promise<boolean> {
  const h = await nextFrame(r, g, timeoutMs)
  return h?.kind === FRAME.HELLO && parseHello(h.body)?.role === 'client'
}

function randomNonce (c: CryptoSuite): Buffer {
  const n = Buffer.alloc(32)
  c.randomFill(n)
  return n
}
