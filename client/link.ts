/**
 * One outgoing WebSocket to a gateway, for a client (`/client`, a plain HELLO) or an ingress
 * (`/ingress`, the mutual identity-key handshake of docs/PROTOCOL.md §17). Reconnects with
 * exponential backoff and jitter; frames are the fixed-size frames of mix/wire/frames.ts.
 */
import WebSocket from 'ws'
import { encodeFrame, encodeHello, FRAME, frameBytes, parseFrame, parseHello, signLink, verifyLink, type CryptoSuite, type Geometry, type Hello } from '../mix/index.ts'

export interface LinkOptions {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  /**
   * ws:// or wss:// address of the gateway (from the network document). A function is asked at
   * every dial, so that a gateway that moves in a later document is dialled at its new address.
   */
  readonly address: string | (() => string)
  readonly role: 'client' | 'ingress'
  /** For an ingress: its id and identity key, and the gateway's id and identity key to check. */
  readonly identity?: { readonly id: Buffer, readonly secretKey: Uint8Array }
  readonly peer?: { readonly id: Buffer, readonly identityKey: Uint8Array }
  readonly handshakeTimeoutMs?: number
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
  /** Refuse to queue more than this many bytes in the socket (a slow gateway must not grow us without bound). */
  readonly maxBufferedBytes?: number
  /** Trust this CA for wss:// (a test or private deployment); default: the system store. */
  readonly ca?: Buffer
  readonly onUp: () => void
  readonly onDown: () => void
  readonly onFrame: (kind: number, body: Buffer) => void
}

type State = 'idle' | 'hello' | 'auth' | 'up' | 'closed'

export class GatewayLink {
  #ws: WebSocket | null = null
  #state: State = 'idle'
  #retryMs: number
  #timer: NodeJS.Timeout | null = null
  #mine: Hello | null = null
  #theirs: Hello | null = null
  readonly #o: LinkOptions

  constructor (o: LinkOptions) {
    if (o.role === 'ingress' && (o.identity === undefined || o.peer === undefined)) throw new TypeError('an ingress link needs identity and peer')
    this.#o = o
    this.#retryMs = o.minRetryMs ?? 1000
  }

  get up (): boolean { return this.#state === 'up' }

  /** Dial (again, after close()). */
  start (): void {
    if (this.#state === 'closed') this.#state = 'idle'
    if (this.#state !== 'idle' || this.#timer !== null) return
    this.#dial()
  }

  /** Send one frame; false when the link is down or its buffer is full (the caller keeps the data). */
  send (kind: number, ...parts: Uint8Array[]): boolean {
    const ws = this.#ws
    if (this.#state !== 'up' || ws === null || ws.readyState !== WebSocket.OPEN) return false
    if (ws.bufferedAmount > (this.#o.maxBufferedBytes ?? 4 << 20)) return false
    ws.send(encodeFrame(this.#o.geometry, kind as 1, ...parts))
    return true
  }

  close (): void {
    this.#state = 'closed'
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#ws?.terminate()
    this.#ws = null
  }

  /**
   * Dial the current address. With none (the gateway left the network document) the link stays
   * idle until start() is called again; an address that cannot be dialled is tried again later.
   * Nothing here throws: it runs in timers, where a throw would end the embedding process.
   */
  #dial (): void {
    const o = this.#o
    const path = o.role === 'client' ? '/client' : '/ingress'
    let ws: WebSocket
    try {
      const address = typeof o.address === 'function' ? o.address() : o.address
      if (address === '') { this.#state = 'idle'; return }
      ws = new WebSocket(address.replace(/\/+$/, '') + path, { perMessageDeflate: false, maxPayload: frameBytes(o.geometry), handshakeTimeout: o.handshakeTimeoutMs ?? 5000, ...(o.ca !== undefined ? { ca: o.ca } : {}) })
    } catch {
      this.#state = 'idle'
      this.#scheduleRetry()
      return
    }
    this.#ws = ws
    this.#state = 'hello'
    ws.binaryType = 'nodebuffer'
    const deadline = setTimeout(() => ws.terminate(), o.handshakeTimeoutMs ?? 5000)
    ws.on('open', () => {
      if (o.role === 'client') {
        ws.send(encodeFrame(o.geometry, FRAME.HELLO, encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })))
        clearTimeout(deadline)
        this.#becomeUp()
        return
      }
      const nonce = Buffer.alloc(32)
      o.crypto.randomFill(nonce)
      this.#mine = { role: 'ingress', id: o.identity!.id, nonce }
      ws.send(encodeFrame(o.geometry, FRAME.HELLO, encodeHello(this.#mine)))
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const f = isBinary ? parseFrame(o.geometry, data) : null
      if (f === null) return
      if (this.#state === 'up') { o.onFrame(f.kind, f.body); return }
      if (!this.#handshake(ws, f.kind, f.body)) ws.close(1008)
      else if (this.up) clearTimeout(deadline)
    })
    ws.on('error', () => {})
    ws.on('close', () => {
      clearTimeout(deadline)
      const wasUp = this.#state === 'up'
      if (this.#ws === ws) this.#ws = null
      if (this.#state === 'closed') return
      this.#state = 'idle'
      if (wasUp) o.onDown()
      this.#scheduleRetry()
    })
  }

  /** Ingress handshake, dialer side: the gateway's HELLO, then its AUTH; then ours. */
  #handshake (ws: WebSocket, kind: number, body: Buffer): boolean {
    const o = this.#o
    if (this.#state === 'hello') {
      const h = kind === FRAME.HELLO ? parseHello(body) : null
      if (h === null || !h.id.equals(o.peer!.id)) return false
      this.#theirs = h
      this.#state = 'auth'
      return true
    }
    if (this.#state === 'auth') {
      if (kind !== FRAME.AUTH || !verifyLink(o.crypto, 2, this.#theirs!, this.#mine!, body, o.peer!.identityKey)) return false
      ws.send(encodeFrame(o.geometry, FRAME.AUTH, signLink(o.crypto, 1, this.#mine!, this.#theirs!, o.identity!.secretKey)))
      this.#becomeUp()
      return true
    }
    return false
  }

  #becomeUp (): void {
    this.#state = 'up'
    this.#retryMs = this.#o.minRetryMs ?? 1000
    this.#o.onUp()
  }

  #scheduleRetry (): void {
    const max = this.#o.maxRetryMs ?? 30_000
    const wait = this.#retryMs * (0.5 + Math.random() / 2)
    this.#retryMs = Math.min(max, this.#retryMs * 2)
    this.#timer = setTimeout(() => { this.#timer = null; if (this.#state === 'idle') this.#dial() }, wait)
  }
}
