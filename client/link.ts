/**
 * The SDK's connection to its entry gateway (`/client`): the client side of the link handshake of
 * mix/wire/handshake.ts (one HELLO, nothing back) over a socket adapter, dialled again after a
 * loss with exponential backoff and jitter; frames are the fixed-size frames of mix/wire/frames.ts.
 * The adapter is a small interface so that a browser WebSocket fits it as well as `ws` in Node
 * (wsSocket, the default).
 */
import WebSocket from 'ws'
import {
  Backoff,
  encodeFrame,
  type FrameKind,
  frameBytes,
  type Geometry,
  LinkDialer,
  type LinkStep,
  parseFrame
} from '../mix/index.ts'

/** One WebSocket as the link uses it. */
export interface LinkSocket {
  send(bytes: Uint8Array): void
  /** With a code: a close frame with it; without: drop the connection at once. */
  close(code?: number): void
  /** Bytes queued and not yet written. */
  readonly bufferedAmount: number
  onopen: (() => void) | null
  onmessage: ((data: Uint8Array, binary: boolean) => void) | null
  /** Once per socket, after an error too. */
  onclose: (() => void) | null
}

export interface SocketOptions {
  /** The frame size: a longer message is refused by the socket. */
  readonly maxPayload: number
  readonly handshakeTimeoutMs: number
  /** Trust this CA for wss:// (where the platform lets the caller choose). */
  readonly ca?: Buffer
}

/** Opens a socket to `url` (ws:// or wss://, path included); may throw on an address it cannot use. */
export type SocketFactory = (url: string, o: SocketOptions) => LinkSocket

/** The default adapter: `ws` in Node. */
export const wsSocket: SocketFactory = (url, o) => {
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: o.maxPayload,
    handshakeTimeout: o.handshakeTimeoutMs,
    ...(o.ca !== undefined ? { ca: o.ca } : {})
  })
  ws.binaryType = 'nodebuffer'
  const s: LinkSocket = {
    send: bytes => ws.send(bytes),
    close: code => {
      if (code === undefined) ws.terminate()
      else ws.close(code)
    },
    get bufferedAmount() {
      return ws.bufferedAmount
    },
    onopen: null,
    onmessage: null,
    onclose: null
  }
  ws.on('open', () => s.onopen?.())
  ws.on('message', (data: Buffer, binary: boolean) => s.onmessage?.(data, binary))
  ws.on('error', () => {
    /* the close that follows is what the link acts on */
  })
  ws.on('close', () => s.onclose?.())
  return s
}

export interface LinkOptions {
  readonly geometry: Geometry
  /**
   * ws:// or wss:// address of the gateway (from the network document). A function is asked at
   * every dial, so that a gateway that moves in a later document is dialled at its new address.
   */
  readonly address: string | (() => string)
  /** @default wsSocket */
  readonly socket?: SocketFactory
  /** From the dial to the link being up. @default 5000 */
  readonly handshakeTimeoutMs?: number
  /** @default 1000 */
  readonly minRetryMs?: number
  /** @default 30000 */
  readonly maxRetryMs?: number
  /** Refuse to queue more than this many bytes in the socket (a slow gateway must not grow us without bound). @default 4 MiB */
  readonly maxBufferedBytes?: number
  /** Trust this CA for wss:// (a test or private deployment); default: the system store. */
  readonly ca?: Buffer
  readonly onUp: () => void
  readonly onDown: () => void
  readonly onFrame: (kind: FrameKind, body: Buffer) => void
}

type State = 'idle' | 'handshake' | 'up' | 'closed'

export class GatewayLink {
  #socket: LinkSocket | null = null
  #state: State = 'idle'
  readonly #backoff: Backoff
  #timer: ReturnType<typeof setTimeout> | null = null
  readonly #o: LinkOptions

  constructor(o: LinkOptions) {
    this.#o = o
    this.#backoff = new Backoff({ minMs: o.minRetryMs ?? 1000, maxMs: o.maxRetryMs ?? 30_000 }, Math.random)
  }

  get up(): boolean {
    return this.#state === 'up'
  }

  /** Dial (again, after close()). */
  start(): void {
    if (this.#state === 'closed') this.#state = 'idle'
    if (this.#state !== 'idle' || this.#timer !== null) return
    this.#dial()
  }

  /** Send one frame; false when the link is down or its buffer is full (the caller keeps the data). */
  send(kind: FrameKind, ...parts: Uint8Array[]): boolean {
    const s = this.#socket
    if (this.#state !== 'up' || s === null) return false
    if (s.bufferedAmount > (this.#o.maxBufferedBytes ?? 4 << 20)) return false
    s.send(encodeFrame(this.#o.geometry, kind, ...parts))
    return true
  }

  close(): void {
    this.#state = 'closed'
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#socket?.close()
    this.#socket = null
  }

  /**
   * Dial the current address. With none (the gateway left the network document) the link stays
   * idle until start() is called again; an address that cannot be dialled is tried again later.
   * Nothing here throws: it runs in timers, where a throw would end the embedding process.
   */
  #dial(): void {
    const o = this.#o
    const timeoutMs = o.handshakeTimeoutMs ?? 5000
    let s: LinkSocket
    try {
      const address = typeof o.address === 'function' ? o.address() : o.address
      if (address === '') {
        this.#state = 'idle'
        return
      }
      s = (o.socket ?? wsSocket)(`${address.replace(/\/+$/, '')}/client`, {
        maxPayload: frameBytes(o.geometry),
        handshakeTimeoutMs: timeoutMs,
        ca: o.ca
      })
    } catch {
      this.#state = 'idle'
      this.#scheduleRetry()
      return
    }
    this.#socket = s
    this.#state = 'handshake'
    const hs = new LinkDialer({ role: 'client', geometry: o.geometry })
    const deadline = setTimeout(() => s.close(), timeoutMs)
    s.onopen = () => this.#step(s, hs.start(), deadline)
    s.onmessage = (data, binary) => {
      if (this.#state === 'handshake') {
        this.#step(s, hs.receive(data, binary), deadline)
        return
      }
      const f =
        binary && this.#state === 'up'
          ? parseFrame(o.geometry, Buffer.from(data.buffer, data.byteOffset, data.byteLength))
          : null
      if (f !== null) o.onFrame(f.kind, f.body)
    }
    s.onclose = () => {
      clearTimeout(deadline)
      const wasUp = this.#state === 'up'
      if (this.#socket === s) this.#socket = null
      if (this.#state === 'closed') return
      this.#state = 'idle'
      if (wasUp) o.onDown()
      this.#scheduleRetry()
    }
  }

  /** Send what the handshake gives; up, or a refusal closed with 1008 (docs/PROTOCOL.md §17). */
  #step(s: LinkSocket, step: LinkStep, deadline: ReturnType<typeof setTimeout>): void {
    for (const f of step.frames) s.send(f)
    if (step.outcome.kind === 'pending') return
    clearTimeout(deadline)
    if (step.outcome.kind === 'refused') {
      s.close(1008)
      return
    }
    this.#state = 'up'
    this.#backoff.reset()
    this.#o.onUp()
  }

  /** The programs' retry schedule (mix/wire/backoff.ts), from 1 s to 30 s by default. */
  #scheduleRetry(): void {
    const wait = this.#backoff.next()
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (this.#state === 'idle') this.#dial()
    }, wait)
  }
}
