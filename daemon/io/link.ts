/**
 * An outbound, authenticated link to one relay (docs/PROTOCOL.md §17): dial, handshake, then send frames
 * with a cap on buffered bytes (beyond it send() refuses and the caller counts the drop). A lost
 * or refused link is retried with exponential backoff, never sooner than `minRetryMs` (5 s) after
 * the last try, up to `maxRetryMs`, with jitter; a ping every `pingIntervalMs` finds dead peers.
 */
import type { Duplex } from 'node:stream'
import WebSocket from 'ws'
import { type CryptoSuite, type Geometry, frameBytes, type LinkRole } from '../../mix/index.ts'
import { FrameReader, type RawMessage } from './frame-reader.ts'
import { dialHandshake, type Identity } from './handshake.ts'

export interface LinkOptions {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  readonly identity: Identity
  readonly role: LinkRole
  readonly peerId: string
  readonly peerKey: Uint8Array
  /** ws(s)://host:port of the peer; the path for the role is appended. */
  readonly address: string
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs: number
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
  readonly onUp?: () => void
  readonly onDown?: () => void
  readonly onHandshakeFailed?: () => void
  readonly onMessage?: (m: RawMessage) => void
}

export class OutLink {
  readonly #o: LinkOptions
  #ws: WebSocket | null = null
  #corked: Duplex | null = null
  /** Bytes sent since cork(): held by the cork, not by a slow peer, so not held against the cap. */
  #corkedBytes = 0
  #ready = false
  #stopped = false
  #retryMs: number
  #retryTimer: NodeJS.Timeout | undefined
  #pingTimer: NodeJS.Timeout | undefined

  constructor (o: LinkOptions) {
    this.#o = o
    this.#retryMs = o.minRetryMs ?? 5000
  }

  get ready (): boolean { return this.#ready }
  get peerId (): string { return this.#o.peerId }
  get bufferedAmount (): number { return this.#ws?.bufferedAmount ?? 0 }

  start (): void { this.#dial() }

  /**
   * Hold this link's writes until uncork(), so that frames sent in between leave in one write
   * (the mixer sends each round's burst this way: its spacing on the wire is then the kernel's,
   * not the event loop's). Uses ws's socket (`_socket`, internal to ws but stable across 7 and 8);
   * calls must pair up.
   */
  cork (): void {
    const s = socketOf(this.#ws)
    this.#corked = s
    this.#corkedBytes = 0
    s?.cork()
  }

  uncork (): void {
    this.#corked?.uncork()
    this.#corked = null
    this.#corkedBytes = 0
  }

  send (frame: Buffer): boolean {
    const ws = this.#ws
    if (!this.#ready || ws === null || ws.bufferedAmount - this.#corkedBytes + frame.length > this.#o.maxBufferedBytes) return false
    ws.send(frame, { binary: true })
    if (this.#corked !== null) this.#corkedBytes += frame.length
    return true
  }

  #dial (): void {
    if (this.#stopped) return
    const o = this.#o
    const path = o.role === 'ingress' ? '/ingress' : '/relay'
    // wss: the certificate chain is not checked; the link handshake authenticates the peer's identity key.
    // closeTimeout (ws >= 8.23, not yet in @types/ws): a close frame waits 1 s for its answer, not 30.
    const ws = new WebSocket(o.address.replace(/\/+$/, '') + path, { perMessageDeflate: false, maxPayload: frameBytes(o.geometry), handshakeTimeout: o.handshakeTimeoutMs, rejectUnauthorized: false, ...{ closeTimeout: 1000 } })
    this.#ws = ws
    // Bound: HANDSHAKE_QUEUE messages before the handshake is done; the peer is cut off beyond.
    const reader = new FrameReader(ws)
    let alive = true
    ws.on('pong', () => { alive = true })
    // Anything the peer sends shows it alive: a busy link whose pong waits behind a long burst is not dropped.
    ws.on('message', () => { alive = true })
    ws.on('error', () => { /* the close that follows schedules a retry */ })
    ws.once('close', () => {
      const wasReady = this.#ready
      this.#ready = false
      this.#ws = null
      if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer)
      if (wasReady) o.onDown?.()
      this.#scheduleRetry()
    })
    ws.once('open', () => {
      void dialHandshake(o.crypto, o.geometry, ws, reader, o.identity, o.role, Buffer.from(o.peerId, 'hex'), o.peerKey, o.handshakeTimeoutMs).then(ok => {
        if (!ok) { o.onHandshakeFailed?.(); if (ws.readyState === ws.OPEN) ws.close(1008, 'handshake failed'); ws.terminate(); return }
        if (ws.readyState !== ws.OPEN) return
        this.#ready = true
        this.#retryMs = o.minRetryMs ?? 5000
        reader.setHandler(m => o.onMessage?.(m))
        this.#pingTimer = setInterval(() => {
          if (!alive) { ws.terminate(); return }
          alive = false
          ws.ping()
        }, o.pingIntervalMs)
        this.#pingTimer.unref()
        o.onUp?.()
      })
    })
  }

  #scheduleRetry (): void {
    if (this.#stopped) return
    const min = this.#o.minRetryMs ?? 5000
    const max = this.#o.maxRetryMs ?? 60_000
    const wait = this.#retryMs * (1 + Math.random() * 0.2)
    this.#retryMs = Math.min(max, Math.max(min, this.#retryMs * 2))
    this.#retryTimer = setTimeout(() => this.#dial(), wait)
    this.#retryTimer.unref()
  }

  async close (): Promise<void> {
    this.#stopped = true
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer)
    const ws = this.#ws
    if (ws === null || ws.readyState === ws.CLOSED) return
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { ws.terminate(); resolve() }, 1000)
      ws.once('close', () => { clearTimeout(t); resolve() })
      ws.close(1001, 'relay stopping')
    })
  }
}

function socketOf (ws: WebSocket | null): Duplex | null {
  if (ws === null || ws.readyState !== ws.OPEN) return null
  return (ws as unknown as { _socket?: Duplex | null })._socket ?? null
}
