/**
 * The link handshake of docs/PROTOCOL.md §17 as a state machine without I/O: messages in, frames
 * and one outcome out. It holds no socket, timer or clock; its driver (daemon/io/handshake.ts over
 * ws, client/link.ts over a socket adapter) sends what comes out, keeps the deadline, and closes
 * with 1008 on a refusal. The HELLO nonce comes from the injected CryptoSuite (or `nonce`).
 *
 * Dialer: sends HELLO. A relay or ingress then takes the listener's HELLO (its id must be the one
 * dialled; its role byte is not looked at) and AUTH, and answers with its own AUTH: up. A client
 * is up once its HELLO (role client, all-zero id and nonce) is out: a gateway answers nothing.
 * Listener: takes HELLO of the role its path serves, from an id it can look up; answers HELLO
 * (role byte 'relay' on every path, /ingress too: the listener is a relay) and AUTH as two frames;
 * takes the dialer's AUTH: up. Nothing confirms the dialer's AUTH, so what follows it is data.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import type { Geometry } from '../sphinx/geometry.ts'
import { encodeFrame, FRAME, type ParsedFrame, parseFrame } from './frames.ts'
import { encodeHello, type Hello, parseHello, signLink, verifyLink } from './link-auth.ts'

/** Why a handshake ends without a link; the driver closes with 1008 whatever the reason. */
export type LinkRefusal =
  /** Not a frame of this geometry (length, kind, a text message), or a HELLO that does not parse. */
  | 'malformed'
  /** Another frame where the peer's HELLO is due. */
  | 'frame_before_hello'
  /** Listener: the HELLO's role is not the one this path serves. */
  | 'wrong_role'
  /** Listener: the dialer's id is not one it may take on this path. */
  | 'unknown_peer'
  /** Dialer: the listener's HELLO names another id than the one dialled. */
  | 'wrong_peer'
  /** Another frame where the peer's AUTH is due. */
  | 'frame_before_auth'
  /** The peer's AUTH does not verify under its identity key. */
  | 'bad_signature'

export type LinkOutcome =
  | { readonly kind: 'pending' }
  /** `peerId`: the authenticated id (hex) of the other side; undefined on a client link. */
  | { readonly kind: 'up'; readonly peerId: string | undefined }
  | { readonly kind: 'refused'; readonly reason: LinkRefusal }

/** What one step asks of the driver: send `frames` in this order, then act on `outcome`. */
export interface LinkStep {
  readonly frames: readonly Buffer[]
  readonly outcome: LinkOutcome
}

export interface LinkHandshake {
  /** The frames to send once the socket is open (the dialer's HELLO; nothing for a listener). */
  start(): LinkStep
  /**
   * One message from the peer; `binary` false for a text message. Once the outcome is up or
   * refused, the handshake takes nothing more (the same outcome comes back, with no frames).
   */
  receive(data: Uint8Array, binary?: boolean): LinkStep
  readonly outcome: LinkOutcome
}

export interface LinkIdentity {
  readonly id: Buffer
  readonly secretKey: Uint8Array
}

interface Authenticated {
  readonly geometry: Geometry
  readonly crypto: CryptoSuite
  readonly identity: LinkIdentity
  /** This side's HELLO nonce; default: 32 fresh bytes from `crypto`. */
  readonly nonce?: Uint8Array
}

export type LinkDialerOptions =
  | { readonly role: 'client'; readonly geometry: Geometry }
  | (Authenticated & {
      readonly role: 'relay' | 'ingress'
      readonly peer: { readonly id: Buffer; readonly identityKey: Uint8Array }
    })

export type LinkListenerOptions =
  | { readonly role: 'client'; readonly geometry: Geometry }
  /** `keyOf`: the identity key of a dialer id (hex) this path takes, from the network document. */
  | (Authenticated & { readonly role: 'relay' | 'ingress'; readonly keyOf: (id: string) => Uint8Array | undefined })

const PENDING: LinkOutcome = { kind: 'pending' }
const refused = (reason: LinkRefusal): LinkOutcome => ({ kind: 'refused', reason })

/** The outcome so far, and the one way to move it. */
abstract class Handshake implements LinkHandshake {
  #outcome: LinkOutcome = PENDING
  get outcome(): LinkOutcome {
    return this.#outcome
  }
  abstract start(): LinkStep
  abstract receive(data: Uint8Array, binary?: boolean): LinkStep
  protected step(outcome: LinkOutcome, ...frames: Buffer[]): LinkStep {
    this.#outcome = outcome
    return { frames, outcome }
  }
}

/** HELLO, then (relay, ingress) the listener's HELLO and AUTH, then AUTH. */
export class LinkDialer extends Handshake {
  readonly #o: LinkDialerOptions
  #mine: Hello | null = null
  #theirs: Hello | null = null

  constructor(o: LinkDialerOptions) {
    super()
    this.#o = o
  }

  start(): LinkStep {
    const o = this.#o
    if (o.role === 'client') {
      const hello = encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })
      return this.step({ kind: 'up', peerId: undefined }, encodeFrame(o.geometry, FRAME.HELLO, hello))
    }
    this.#mine = { role: o.role, id: o.identity.id, nonce: nonceOf(o) }
    return this.step(PENDING, encodeFrame(o.geometry, FRAME.HELLO, encodeHello(this.#mine)))
  }

  receive(data: Uint8Array, binary = true): LinkStep {
    const o = this.#o
    const mine = this.#mine
    if (this.outcome.kind !== 'pending') return this.step(this.outcome)
    if (o.role === 'client' || mine === null) throw MixError.BAD_ARGUMENT('LinkDialer.receive() before start()')
    if (this.#theirs === null) {
      const h = helloIn(o.geometry, data, binary)
      if (typeof h === 'string') return this.step(refused(h))
      if (!h.id.equals(o.peer.id)) return this.step(refused('wrong_peer'))
      this.#theirs = h
      return this.step(PENDING)
    }
    const sig = authIn(o.geometry, data, binary)
    if (typeof sig === 'string') return this.step(refused(sig))
    if (!verifyLink(o.crypto, 2, this.#theirs, mine, sig, o.peer.identityKey))
      return this.step(refused('bad_signature'))
    const auth = encodeFrame(o.geometry, FRAME.AUTH, signLink(o.crypto, 1, mine, this.#theirs, o.identity.secretKey))
    return this.step({ kind: 'up', peerId: this.#theirs.id.toString('hex') }, auth)
  }
}

/** The dialer's HELLO; then (relay, ingress) HELLO and AUTH back, and the dialer's AUTH. */
export class LinkListener extends Handshake {
  readonly #o: LinkListenerOptions
  /** Once the dialer's HELLO is taken: it, the dialer's key, and the HELLO sent back. */
  #hellos: { readonly theirs: Hello; readonly key: Uint8Array; readonly mine: Hello } | null = null

  constructor(o: LinkListenerOptions) {
    super()
    this.#o = o
  }

  start(): LinkStep {
    return this.step(this.outcome)
  }

  receive(data: Uint8Array, binary = true): LinkStep {
    const o = this.#o
    if (this.outcome.kind !== 'pending') return this.step(this.outcome)
    if (this.#hellos === null) {
      const h = helloIn(o.geometry, data, binary)
      if (typeof h === 'string') return this.step(refused(h))
      if (h.role !== o.role) return this.step(refused('wrong_role'))
      if (o.role === 'client') return this.step({ kind: 'up', peerId: undefined })
      const key = o.keyOf(h.id.toString('hex'))
      if (key === undefined) return this.step(refused('unknown_peer'))
      const mine: Hello = { role: 'relay', id: o.identity.id, nonce: nonceOf(o) }
      this.#hellos = { theirs: h, key, mine }
      return this.step(
        PENDING,
        encodeFrame(o.geometry, FRAME.HELLO, encodeHello(mine)),
        encodeFrame(o.geometry, FRAME.AUTH, signLink(o.crypto, 2, mine, h, o.identity.secretKey))
      )
    }
    if (o.role === 'client') return this.step(this.outcome) // its handshake ended at the HELLO
    const sig = authIn(o.geometry, data, binary)
    if (typeof sig === 'string') return this.step(refused(sig))
    const { theirs, key, mine } = this.#hellos
    if (!verifyLink(o.crypto, 1, theirs, mine, sig, key)) return this.step(refused('bad_signature'))
    return this.step({ kind: 'up', peerId: theirs.id.toString('hex') })
  }
}

function frameIn(g: Geometry, data: Uint8Array, binary: boolean): ParsedFrame {
  return binary ? parseFrame(g, Buffer.from(data.buffer, data.byteOffset, data.byteLength)) : null
}

/** The peer's HELLO in one message, or why it is not there. */
function helloIn(g: Geometry, data: Uint8Array, binary: boolean): Hello | LinkRefusal {
  const f = frameIn(g, data, binary)
  if (f === null) return 'malformed'
  if (f.kind !== FRAME.HELLO) return 'frame_before_hello'
  return parseHello(f.body) ?? 'malformed'
}

/** The peer's AUTH signature in one message, or why it is not there. */
function authIn(g: Geometry, data: Uint8Array, binary: boolean): Buffer | LinkRefusal {
  const f = frameIn(g, data, binary)
  if (f === null) return 'malformed'
  return f.kind === FRAME.AUTH ? f.body : 'frame_before_auth'
}

function nonceOf(o: Authenticated): Buffer {
  if (o.nonce !== undefined) return Buffer.from(o.nonce)
  const n = Buffer.alloc(32)
  o.crypto.randomFill(n)
  return n
}
