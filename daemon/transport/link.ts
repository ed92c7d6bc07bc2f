/**
 * An outbound, authenticated link to one relay (DESIGN.md §8): dial, handshake, then send frames
 * with a cap on buffered bytes (beyond it send() refuses and the caller counts the drop). A lost
 * or refused link is retried with exponential backoff, never sooner than `minRetryMs` (5 s) after
 * the last try, up to `maxRetryMs`, with jitter; a ping every `pingIntervalMs` finds dead peers.
 */
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

  send (frame: Buffer): boolean {
    const ws = this.#ws
    if (!this.#ready || ws === null || ws.bufferedAmount + frame.length > this.#o.maxBufferedBytes) return false
    ws.send(frame, { binary: true })
    return true
  }

  #dial (): void {
    if (this.#stopped) return
    const o = this.#o
    const path = o.role === 'ingress' ? '/ingress' : '/relay'
    // wss: the certificate chain is not checked; the link handshake authenticates the peer's identity key.
    const ws = new WebSocket(o.address.replace(/\/+$/, '') + path, { perMessageDeflate: false, maxPayload: frameBytes(o.geometry), handshakeTimeout: o.handshakeTimeoutMs, rejectUnauthorized: false })
    this.#ws = ws
    const reader = new FrameReader(ws)
    let alive = true
    ws.on('pong', () => { alive = true })
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
        if (!ok) { o.onHandshakeFailed?.(); ws.close(1008, 'handshake failed'); return }
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
