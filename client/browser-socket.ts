/**
 * The link's socket adapter over the platform's own WebSocket (browsers, Web Workers, Deno, and
 * Node 22+): what a browser build passes as `socket`. The platform chooses TLS trust (no `ca`),
 * and it has no size limit of its own, so a message longer than one frame is dropped here,
 * before it reaches the link's parser.
 */
import type { LinkSocket, SocketFactory } from './link.ts'

/** The part of the standard WebSocket this adapter uses. */
interface PlatformSocket {
  binaryType: string
  readonly bufferedAmount: number
  send(data: Uint8Array): void
  close(code?: number): void
  onopen: (() => void) | null
  onmessage: ((e: { data: unknown }) => void) | null
  onclose: (() => void) | null
  onerror: (() => void) | null
}
type PlatformSocketClass = new (url: string) => PlatformSocket

export function browserSocket(Platform?: PlatformSocketClass): SocketFactory {
  return (url, o) => {
    const Ctor = Platform ?? (globalThis as unknown as { WebSocket?: PlatformSocketClass }).WebSocket
    if (Ctor === undefined) throw new TypeError('this platform has no WebSocket')
    const ws = new Ctor(url)
    ws.binaryType = 'arraybuffer'
    let closed = false
    const s: LinkSocket = {
      send: bytes => ws.send(bytes),
      // A browser cannot drop a connection without a close frame: 1000 is the nearest it allows.
      close: code => ws.close(code ?? 1000),
      get bufferedAmount() {
        return ws.bufferedAmount
      },
      onopen: null,
      onmessage: null,
      onclose: null
    }
    // The opening deadline: the platform socket has none of its own.
    let opened = false
    const deadline = setTimeout(() => {
      if (!opened) ws.close()
    }, o.handshakeTimeoutMs)
    ws.onopen = () => {
      opened = true
      clearTimeout(deadline)
      s.onopen?.()
    }
    ws.onmessage = e => {
      if (!(e.data instanceof ArrayBuffer)) {
        s.onmessage?.(new Uint8Array(0), false)
        return
      }
      if (e.data.byteLength > o.maxPayload) {
        ws.close(1009)
        return
      }
      s.onmessage?.(new Uint8Array(e.data), true)
    }
    ws.onerror = () => {
      /* the close that follows is what the link acts on */
    }
    ws.onclose = () => {
      clearTimeout(deadline)
      if (closed) return
      closed = true
      s.onclose?.()
    }
    return s
  }
}
