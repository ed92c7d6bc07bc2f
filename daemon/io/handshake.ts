/**
 * Runs a link handshake of mix/wire/handshake.ts over a ws socket and its FrameReader: sends what
 * each step gives, feeds it the peer's messages, and gives up at the deadline. The listener learns
 * and authenticates the dialer's id; the dialer checks that it reached the relay it meant to reach.
 * On a refusal the caller closes with 1008 (policy violation).
 */
import type WebSocket from 'ws'
import {
  type CryptoSuite,
  type Geometry,
  LinkDialer,
  type LinkHandshake,
  type LinkIdentity,
  LinkListener,
  type LinkListenerOptions,
  type LinkOutcome,
  type LinkRole
} from '../../mix/index.ts'
import type { FrameReader } from './frame-reader.ts'

export type Identity = LinkIdentity

/** How a handshake run ends: the machine's outcome, or no message from the peer in time. */
export type HandshakeResult = LinkOutcome | { readonly kind: 'timeout' }

/** Drive `hs` until it is up or refused, or until `timeoutMs` has passed with no outcome. */
export async function runHandshake(
  hs: LinkHandshake,
  ws: WebSocket,
  r: FrameReader,
  timeoutMs: number
): Promise<Exclude<HandshakeResult, { kind: 'pending' }>> {
  const end = Date.now() + timeoutMs
  let step = hs.start()
  for (;;) {
    for (const f of step.frames) ws.send(f)
    if (step.outcome.kind !== 'pending') return step.outcome
    const m = await r.next(Math.max(1, end - Date.now()))
    if (m === null) return { kind: 'timeout' }
    step = hs.receive(m.data, m.isBinary)
  }
}

/** Dialer side: true once both identities are proven (for role client: once its HELLO is out). */
export async function dialHandshake(
  c: CryptoSuite,
  g: Geometry,
  ws: WebSocket,
  r: FrameReader,
  me: Identity,
  role: LinkRole,
  peerId: Buffer,
  peerKey: Uint8Array,
  timeoutMs: number
): Promise<boolean> {
  const hs = new LinkDialer(
    role === 'client'
      ? { role, geometry: g }
      : { role, crypto: c, geometry: g, identity: me, peer: { id: peerId, identityKey: peerKey } }
  )
  return (await runHandshake(hs, ws, r, timeoutMs)).kind === 'up'
}

/**
 * Listener side, for the role a path serves: the dialer's id once it is authenticated, undefined
 * for a client (nothing to authenticate), null on a refusal or at the deadline.
 */
export async function acceptHandshake(
  o: LinkListenerOptions,
  ws: WebSocket,
  r: FrameReader,
  timeoutMs: number
): Promise<string | undefined | null> {
  const done = await runHandshake(new LinkListener(o), ws, r, timeoutMs)
  return done.kind === 'up' ? done.peerId : null
}
