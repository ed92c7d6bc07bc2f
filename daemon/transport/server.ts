/**
 * The packet listener (DESIGN.md §8, STYLE.md rule 33): WebSocketServer in noServer mode behind an
 * http(s) server; binary frames only, permessage-deflate off, maxPayload = frame size (a larger
 * frame closes with 1009), connection caps with slots kept for relays and ingresses, a per-address
 * cap for clients, a handshake deadline, a deadline for every started frame, ping/pong liveness.
 * Remote addresses are used for the per-address count only: never stored beyond it, never logged.
 */
import { createServer as createHttp, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttps } from 'node:https'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { type CryptoSuite, type Geometry, frameBytes } from '../../mix/index.ts'
import { RelayError } from '../errors.ts'
import { FrameReader, type RawMessage } from './frame-reader.ts'
import { acceptClient, acceptHandshake, type Identity } from './handshake.ts'

export type ConnKind = 'client' | 'relay' | 'ingress'

export interface Conn {
  readonly kind: ConnKind
  /** Authenticated id (relays, ingresses); undefined for clients. */
  readonly peerId: string | undefined
  /** Send a frame unless that would exceed the buffer cap; false means dropped. */
  send (frame: Buffer): boolean
  close (code: number, reason: string): void
  readonly bufferedAmount: number
}

export interface ListenerOptions {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  readonly identity: Identity
  readonly host: string
  readonly port: number
  readonly tls?: { readonly certFile: string, readonly keyFile: string }
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly reservedPeerSlots: number
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs: number
  /** Which paths this relay serves: gateways take clients and ingresses, mixes only relays. */
  readonly kinds: ReadonlySet<ConnKind>
  /** A frame whose first byte arrived must be complete within this time. @default handshakeTimeoutMs */
  readonly frameDeadlineMs?: number
  /** Identity key of a relay (kind 'relay') or ingress (kind 'ingress') listed in the network document. */
  readonly keyOf: (kind: 'relay' | 'ingress', id: string) => Uint8Array | undefined
  readonly onOpen: (c: Conn) => void
  readonly onMessage: (c: Conn, m: RawMessage) => void
  readonly onClose: (c: Conn) => void
  readonly onHandshakeFailed: (kind: ConnKind) => void
}

interface Live { ws: WebSocket, conn: Conn | null, kind: ConnKind, alive: boolean, partialSince: number, ip: string }

export class Listener {
  readonly #o: ListenerOptions
  readonly #http: Server
  readonly #wss: WebSocketServer
  readonly #live = new Set<Live>()
  readonly #perIp = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #accepting = true

  constructor (o: ListenerOptions) {
    this.#o = o
    this.#http = o.tls === undefined ? createHttp() : createHttps({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) })
    this.#http.on('request', (_req, res) => { res.writeHead(426, { connection: 'close' }).end() })
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: frameBytes(o.geometry), perMessageDeflate: false, clientTracking: false })
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head))
  }

  async start (): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', (e) => reject(RelayError.LISTEN_FAILED(`cannot listen on the configured port: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, e)))
      this.#http.listen(this.#o.port, this.#o.host, () => resolve())
    })
    const tick = Math.min(this.#o.pingIntervalMs, 1000)
    let sincePing = 0
    this.#timer = setInterval(() => {
      sincePing += tick
      const now = Date.now()
      const deadline = this.#o.frameDeadlineMs ?? this.#o.handshakeTimeoutMs
      for (const l of this.#live) {
        if (midFrame(l.ws)) {
          if (l.partialSince === 0) l.partialSince = now
          else if (now - l.partialSince > deadline) { l.ws.terminate(); continue }
        } else l.partialSince = 0
        if (sincePing >= this.#o.pingIntervalMs) {
          if (!l.alive) { l.ws.terminate(); continue }
          l.alive = false
          l.ws.ping()
        }
      }
      if (sincePing >= this.#o.pingIntervalMs) sincePing = 0
    }, tick)
    this.#timer.unref()
    return (this.#http.address() as AddressInfo).port
  }

  /** Bytes waiting in send buffers, summed per kind of connection. */
  bufferedByKind (): Record<ConnKind, number> {
    const out: Record<ConnKind, number> = { client: 0, relay: 0, ingress: 0 }
    for (const l of this.#live) out[l.kind] += l.ws.bufferedAmount
    return out
  }

  #upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0]
    const kind: ConnKind | undefined = path === '/client' ? 'client' : path === '/relay' ? 'relay' : path === '/ingress' ? 'ingress' : undefined
    const refuse = (status: number): void => { socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\nconnection: close\r\n\r\n`) }
    if (kind === undefined || !this.#o.kinds.has(kind)) { refuse(404); return }
    const ip = req.socket.remoteAddress ?? ''
    const total = this.#live.size
    const cap = kind === 'client' ? this.#o.maxConnections - this.#o.reservedPeerSlots : this.#o.maxConnections
    if (!this.#accepting || total >= cap || (kind === 'client' && (this.#perIp.get(ip) ?? 0) >= this.#o.maxConnectionsPerIp)) { refuse(503); return }
    this.#wss.handleUpgrade(req, socket, head, (ws) => { void this.#accept(ws, kind, ip) })
  }

  async #accept (ws: WebSocket, kind: ConnKind, ip: string): Promise<void> {
    const l: Live = { ws, conn: null, kind, alive: true, partialSince: 0, ip }
    this.#live.add(l)
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1)
    const reader = new FrameReader(ws)
    ws.on('pong', () => { l.alive = true })
    ws.on('error', () => { /* closes follow; nothing about the peer is logged */ })
    ws.once('close', () => {
      this.#live.delete(l)
      const n = (this.#perIp.get(ip) ?? 1) - 1
      if (n <= 0) this.#perIp.delete(ip); else this.#perIp.set(ip, n)
      if (l.conn !== null) this.#o.onClose(l.conn)
    })
    const o = this.#o
    const peerId = kind === 'client'
      ? (await acceptClient(o.geometry, reader, o.handshakeTimeoutMs) ? undefined : null)
      : await acceptHandshake(o.crypto, o.geometry, ws, reader, o.identity, kind, id => o.keyOf(kind, id), o.handshakeTimeoutMs)
    if (peerId === null) {
      o.onHandshakeFailed(kind)
      ws.close(1008, 'handshake failed')
      return
    }
    if (ws.readyState !== ws.OPEN) return
    const max = o.maxBufferedBytes
    const conn: Conn = {
      kind,
      peerId,
      send: (frame) => {
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount + frame.length > max) return false
        ws.send(frame, { binary: true })
        return true
      },
      close: (code, reason) => ws.close(code, reason),
      get bufferedAmount () { return ws.bufferedAmount }
    }
    l.conn = conn
    o.onOpen(conn)
    reader.setHandler((m) => o.onMessage(conn, m))
  }

  /** Stop accepting new connections (first step of a graceful shutdown). */
  stopAccepting (): void { this.#accepting = false }

  async close (): Promise<void> {
    this.#accepting = false
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const l of this.#live) l.ws.close(1001, 'relay stopping')
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { for (const l of this.#live) l.ws.terminate(); resolve() }, 1000)
      const check = (): void => { if (this.#live.size === 0) { clearTimeout(t); resolve() } else setTimeout(check, 10) }
      check()
    })
    this.#wss.close()
    await new Promise<void>(resolve => { this.#http.close(() => resolve()); this.#http.closeAllConnections() })
  }
}

/**
 * True while the ws receiver holds part of a frame (bytes buffered or a frame header read but its
 * payload incomplete). Reads ws 8 internals (`_receiver._state`, `_bufferedBytes`, `_fragments`);
 * test/daemon/transport.test.ts fails if an upgrade of ws changes them.
 */
export function midFrame (ws: WebSocket): boolean {
  const r = (ws as unknown as { _receiver?: { _state?: number, _bufferedBytes?: number, _fragments?: unknown[] } })._receiver
  if (r === undefined) return false
  return (r._bufferedBytes ?? 0) > 0 || (r._state ?? 0) !== 0 || (r._fragments?.length ?? 0) > 0
}
