/**
 * An outbound, authenticated link (docs/PROTOCOL.md §17): relay to relay (`/relay`, the next
 * layer) and ingress to gateway (`/ingress`). Dial, run the handshake of mix/wire/handshake.ts,
 * then send frames with a cap on buffered bytes (beyond it send() refuses and the caller counts the
 * drop). A lost or refused link is dialled again on the schedule of mix/wire/backoff.ts; a ping
 * every `pingIntervalMs` finds dead peers. setLimits (a reload) changes the buffer cap at once and
 * the handshake deadline and ping interval from the next dial: the link is never dropped for it.
 */
import type { Duplex } from 'node:stream'
import WebSocket from 'ws'
import {
  Backoff,
  type CryptoSuite,
  type FrameKind,
  frameBytes,
  type Geometry,
  LinkDialer,
  parseFrame
} from '../../mix/index.ts'
import { FrameReader } from './frame-reader.ts'
import { type Identity, runHandshake } from './handshake.ts'

export interface LinkOptions {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  readonly identity: Identity
  readonly role: 'relay' | 'ingress'
  readonly peerId: string
  readonly peerKey: Uint8Array
  /** ws(s)://host:port of the peer; the path for the role is appended. */
  readonly address: string
  /**
   * wss: check the peer's certificate chain against the system store as well. Off by default:
   * the link handshake authenticates the peer's identity key either way.
   */
  readonly checkCertificate?: boolean
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
  /** Without it this side sends no pings (the listener's own pings still check the link). */
  readonly pingIntervalMs?: number
  /** @default 5000 */
  readonly minRetryMs?: number
  /** @default 60000 */
  readonly maxRetryMs?: number
  readonly onUp?: () => void
  readonly onDown?: () => void
  readonly onHandshakeFailed?: () => void
  /** A frame from the peer once the link is up; a malformed message is dropped. */
  readonly onFrame?: (kind: FrameKind, body: Buffer) => void
}

/** What a reload may change on a running link. */
export interface LinkLimits {
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs?: number
}

export class OutLink {
  readonly #o: LinkOptions
  #limits: LinkLimits
  #ws: WebSocket | null = null
  #corked: Duplex | null = null
  /** Bytes sent since cork(): held by the cork, not by a slow peer, so not held against the cap. */
  #corkedBytes = 0
  #ready = false
  #stopped = false
  readonly #backoff: Backoff
  #retryTimer: NodeJS.Timeout | undefined
  #pingTimer: NodeJS.Timeout | undefined

  constructor(o: LinkOptions) {
    this.#o = o
    this.#limits = {
      maxBufferedBytes: o.maxBufferedBytes,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      pingIntervalMs: o.pingIntervalMs
    }
    this.#backoff = new Backoff({ minMs: o.minRetryMs ?? 5000, maxMs: o.maxRetryMs ?? 60_000 }, Math.random)
  }

  get ready(): boolean {
    return this.#ready
  }
  get peerId(): string {
    return this.#o.peerId
  }
  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0
  }

  start(): void {
    this.#dial()
  }

  /** New limits: the buffer cap applies to the next send, the deadline and ping interval from the next dial. */
  setLimits(l: LinkLimits): void {
    this.#limits = { ...l }
  }

  /**
   * Hold this link's writes until uncork(), so that frames sent in between leave in one write
   * (the mixer sends each round's burst this way: its spacing on the wire is then the kernel's,
   * not the event loop's). Uses ws's socket (`_socket`, internal to ws but stable across 7 and 8);
   * calls must pair up.
   */
  cork(): void {
    const s = socketOf(this.#ws)
    this.#corked = s
    this.#corkedBytes = 0
    s?.cork()
  }

  uncork(): void {
    this.#corked?.uncork()
    this.#corked = null
    this.#corkedBytes = 0
  }

  send(frame: Buffer): boolean {
    const ws = this.#ws
    if (
      !this.#ready ||
      ws === null ||
      ws.bufferedAmount - this.#corkedBytes + frame.length > this.#limits.maxBufferedBytes
    )
      return false
    ws.send(frame, { binary: true })
    if (this.#corked !== null) this.#corkedBytes += frame.length
    return true
  }

  #dial(): void {
    if (this.#stopped) return
    const o = this.#o
    const limits = this.#limits
    // closeTimeout (ws >= 8.23, not yet in @types/ws): a close frame waits 1 s for its answer, not 30.
    let ws: WebSocket
    try {
      ws = new WebSocket(`${o.address.replace(/\/+$/, '')}/${o.role}`, {
        perMessageDeflate: false,
        maxPayload: frameBytes(o.geometry),
        handshakeTimeout: limits.handshakeTimeoutMs,
        rejectUnauthorized: o.checkCertificate === true,
        ...{ closeTimeout: 1000 }
      })
    } catch {
      // An address ws cannot parse: this runs in a timer, where a throw would end the process.
      this.#scheduleRetry()
      return
    }
    this.#ws = ws
    // Bound: HANDSHAKE_QUEUE messages before the handshake is done; the peer is cut off beyond.
    const reader = new FrameReader(ws)
    let alive = true
    ws.on('pong', () => {
      alive = true
    })
    // Anything the peer sends shows it alive: a busy link whose pong waits behind a long burst is not dropped.
    ws.on('message', () => {
      alive = true
    })
    ws.on('error', () => {
      /* the close that follows schedules a retry */
    })
    ws.once('close', () => {
      const wasReady = this.#ready
      this.#ready = false
      this.#ws = null
      if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer)
      if (wasReady) o.onDown?.()
      this.#scheduleRetry()
    })
    ws.once('open', () => {
      const hs = new LinkDialer({
        role: o.role,
        crypto: o.crypto,
        geometry: o.geometry,
        identity: o.identity,
        peer: { id: Buffer.from(o.peerId, 'hex'), identityKey: o.peerKey }
      })
      void runHandshake(hs, ws, reader, limits.handshakeTimeoutMs).then(done => {
        if (done.kind !== 'up') {
          o.onHandshakeFailed?.()
          if (ws.readyState === ws.OPEN) ws.close(1008, 'handshake failed')
          ws.terminate()
          return
        }
        if (ws.readyState !== ws.OPEN) return
        this.#ready = true
        this.#backoff.reset()
        reader.setHandler(m => {
          const f = m.isBinary ? parseFrame(o.geometry, m.data) : null
          if (f !== null) o.onFrame?.(f.kind, f.body)
        })
        if (limits.pingIntervalMs !== undefined) {
          this.#pingTimer = setInterval(() => {
            if (!alive) {
              ws.terminate()
              return
            }
            alive = false
            ws.ping()
          }, limits.pingIntervalMs)
          this.#pingTimer.unref()
        }
        o.onUp?.()
      })
    })
  }

  #scheduleRetry(): void {
    if (this.#stopped) return
    this.#retryTimer = setTimeout(() => this.#dial(), this.#backoff.next())
    this.#retryTimer.unref()
  }

  async close(): Promise<void> {
    this.#stopped = true
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer)
    const ws = this.#ws
    if (ws === null || ws.readyState === ws.CLOSED) return
    await new Promise<void>(resolve => {
      const t = setTimeout(() => {
        ws.terminate()
        resolve()
      }, 1000)
      ws.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      ws.close(1001, `${this.#o.role} stopping`)
    })
  }
}

function socketOf(ws: WebSocket | null): Duplex | null {
  if (ws === null || ws.readyState !== ws.OPEN) return null
  return (ws as unknown as { _socket?: Duplex | null })._socket ?? null
}
