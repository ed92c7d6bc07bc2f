/**
 * The packet listener (docs/PROTOCOL.md §17): WebSocketServer in noServer mode behind an
 * http(s) server; binary frames only, permessage-deflate off, maxPayload = frame size (a larger
 * frame closes with 1009), connection admission, a handshake deadline, a deadline for every
 * started frame, ping/pong liveness.
 *
 * Admission. Every TCP socket is counted from the moment it is accepted, before it says
 * anything, by the unit of daemon/io/address.ts (IPv4 /32, IPv6 /64):
 * - unauthenticated: a socket that has not finished its handshake (raw TCP that never upgrades,
 *   an upgrade that never says HELLO, a relay that never signs). At most `maxUnauthenticated` in
 *   all and `maxUnauthenticatedPerIp` per address; when the pool is full the oldest one (older
 *   than EVICT_AFTER_MS) is closed to make room, else the newcomer is refused. All of them are
 *   closed at `handshakeTimeoutMs` after they were accepted.
 * - clients: a /client upgrade takes a client slot at once (`maxConnectionsPerIp` per address,
 *   `maxConnections - reservedPeerSlots` in all), refused with 503 beyond.
 * - peers: a relay or ingress takes a slot only when its handshake succeeded; clients can never
 *   take the last `reservedPeerSlots`, so a relay that can reach the listener can always link.
 *   At most PEER_LINKS_PER_ID links per authenticated id: a newer one replaces the oldest.
 * Whatever the listener gives up on (a failed or late handshake, a stalled frame, a missed pong,
 * an eviction) is terminated: no close handshake, so nothing lingers in ws's close timeout (which
 * is 1 s here, not ws's 30 s, for the closes ws starts itself: a frame too large (1009) or
 * malformed).
 * Every refusal and forced close is counted by reason and noted in the log (notices.ts beside
 * this file: at most one line per reason every 10 s, never an address).
 * setLimits (a reload, SIGHUP) changes every limit above while the listener runs. Nothing open is
 * closed for it: a lower limit than what is held now refuses newcomers until the count is under
 * it; a deadline or ping interval counts for sockets accepted from then on (the ping check of
 * open links at once). useTls serves new TLS handshakes with the files read again.
 *
 * Remote addresses are used for these counts only: held while the socket is, never logged.
 */

import { readFileSync } from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttps, type Server as HttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createSecureContext } from 'node:tls'
import { type WebSocket, WebSocketServer } from 'ws'
import { type CryptoSuite, frameBytes, type Geometry } from '../../../mix/index.ts'
import type { Logger } from '../../io/index.ts'
import {
  acceptHandshake,
  addressKey,
  bindProblem,
  errorCode,
  FrameReader,
  type Identity,
  type RawMessage,
  RelayError
} from '../../io/index.ts'
import type { ConnCloseLabel, ConnLinkLabel, ConnRefusalLabel, RelayMetrics } from '../metrics.ts'
import { Notices } from './notices.ts'

export type ConnKind = 'client' | 'relay' | 'ingress'

export interface Conn {
  readonly kind: ConnKind
  /** Authenticated id (relays, ingresses); undefined for clients. */
  readonly peerId: string | undefined
  /** Send a frame unless that would exceed the buffer cap; false means dropped. */
  send(frame: Buffer): boolean
  close(code: number, reason: string): void
  readonly bufferedAmount: number
  /**
   * Stop reading this connection (TCP backpressure) until resume(); the deadlines and the ping
   * check leave a paused connection alone, since the stall is ours. Used for clients only.
   */
  pause(): void
  resume(): void
}

/** The limits a reload may change while the listener runs (setLimits). */
export interface ListenerLimits {
  readonly maxConnections: number
  /** Clients (and /client upgrades still in their handshake) per address. */
  readonly maxConnectionsPerIp: number
  readonly reservedPeerSlots: number
  /** Sockets not past their handshake, in all. @default min(128, max(8, maxConnections / 4)) */
  readonly maxUnauthenticated?: number
  /** Sockets not past their handshake, per address. @default 8 */
  readonly maxUnauthenticatedPerIp?: number
  readonly maxBufferedBytes: number
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs: number
  /** A frame whose first byte arrived must be complete within this time. @default handshakeTimeoutMs */
  readonly frameDeadlineMs?: number
}

export interface ListenerOptions extends ListenerLimits {
  readonly crypto: CryptoSuite
  readonly geometry: Geometry
  readonly identity: Identity
  readonly host: string
  readonly port: number
  readonly tls?: TlsFiles
  /** Which paths this relay serves: gateways take clients and ingresses, mixes only relays. */
  readonly kinds: ReadonlySet<ConnKind>
  /** Identity key of a relay (kind 'relay') or ingress (kind 'ingress') listed in the network document. */
  readonly keyOf: (kind: 'relay' | 'ingress', id: string) => Uint8Array | undefined
  readonly onOpen: (c: Conn) => void
  readonly onMessage: (c: Conn, m: RawMessage) => void
  readonly onClose: (c: Conn) => void
  readonly onHandshakeFailed?: (kind: ConnKind) => void
  /** Refusals and forced closes are counted here (sealmix_connections_*), when given. */
  readonly metrics?: RelayMetrics
  /** Refusals and forced closes are noted here (rate-limited), when given. */
  readonly log?: Logger
}

export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
}

/** Links one authenticated relay or ingress id may hold at once; a newer one closes the oldest. */
export const PEER_LINKS_PER_ID = 4
/** An unauthenticated socket younger than this is never evicted to make room for a newer one. */
export const EVICT_AFTER_MS = 1000
/** ws's wait for the peer's answer to a close frame (its default is 30 s). */
const CLOSE_TIMEOUT_MS = 1000

type State = 'raw' | 'handshake' | 'open'

/**
 * One TCP socket, from accept to close. Held in #entries (bounded: maxUnauthenticated + the
 * connection slots, every one counted from accept), #unauthOrder (at most maxUnauthenticated)
 * and #peers (PEER_LINKS_PER_ID per id, ids from the network document). What ws holds for it is
 * bounded too: one partial frame (maxPayload, the frame size; a larger frame closes with 1009),
 * maxBufferedBytes of frames to send (Conn.send refuses beyond), 60 pongs owed (ws's
 * maxPendingAutoPongs: a peer that pings without reading is terminated), and HANDSHAKE_QUEUE
 * messages in its FrameReader before the handshake is done.
 */
interface Entry {
  readonly key: string
  readonly socket: Duplex
  readonly addr: string
  readonly since: number
  state: State
  kind: ConnKind | undefined
  ws: WebSocket | null
  conn: Conn | null
  peerId: string | undefined
  alive: boolean
  paused: boolean
  /** Complete messages received; the frame deadline looks for progress in this count. */
  frames: number
  partialSince: number
  framesAtPartial: number
  deadline: NodeJS.Timeout | undefined
  /** Why the listener gave up on it; set once, so each socket is counted once. */
  closing: ConnCloseLabel | 'refused' | 'stopping' | null
}

export class Listener {
  readonly #o: ListenerOptions
  readonly #http: Server
  readonly #wss: WebSocketServer
  readonly #notices: Notices
  #l: ListenerLimits
  #maxUnauth: number
  #maxUnauthPerIp: number
  #tick = 0
  /** Every socket held, by remote address and port (one entry per TCP connection). */
  readonly #entries = new Map<string, Entry>()
  /** Unauthenticated sockets, oldest first (insertion order). */
  readonly #unauthOrder = new Set<Entry>()
  /** Per address: unauthenticated sockets and client slots. An address leaves the map with its last socket. */
  readonly #byAddr = new Map<string, { unauth: number; clients: number }>()
  /** Authenticated links per relay or ingress id. */
  readonly #peers = new Map<string, Entry[]>()
  /** Client slots taken: /client upgrades from the upgrade on (at most maxConnections - reservedPeerSlots). */
  #clients = 0
  /** Authenticated relay and ingress links. */
  #peersOpen = 0
  #timer: NodeJS.Timeout | undefined
  #accepting = true

  constructor(o: ListenerOptions) {
    this.#o = o
    this.#l = o
    this.#maxUnauth = o.maxUnauthenticated ?? defaultMaxUnauthenticated(o.maxConnections)
    this.#maxUnauthPerIp = o.maxUnauthenticatedPerIp ?? 8
    this.#notices = new Notices(o.log)
    this.#http = o.tls === undefined ? createHttp() : createHttps(readTls(o.tls))
    this.#http.on('connection', (s: Socket) => this.#connection(s))
    this.#http.on('request', (req, res) => {
      const e = this.#entryOf(req.socket)
      if (e !== undefined) this.#refused(e, 'bad_request')
      res.writeHead(426, { connection: 'close' }).end()
    })
    // closeTimeout (ws >= 8.23, not yet in @types/ws): how long a close frame waits for its answer.
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: frameBytes(o.geometry),
      perMessageDeflate: false,
      clientTracking: false,
      ...{ closeTimeout: CLOSE_TIMEOUT_MS }
    })
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head))
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', e =>
        reject(RelayError.LISTEN_FAILED(bindProblem('listen', this.#o.host, this.#o.port, e), e))
      )
      this.#http.listen(this.#o.port, this.#o.host, () => resolve())
    })
    this.#startTimer()
    return (this.#http.address() as AddressInfo).port
  }

  /** The deadline and ping check, every second (more often when pings are more frequent). */
  #startTimer(): void {
    const tick = Math.min(this.#l.pingIntervalMs, 1000)
    if (this.#timer !== undefined && tick === this.#tick) return
    clearInterval(this.#timer)
    this.#tick = tick
    let sincePing = 0
    let last = Date.now()
    this.#timer = setInterval(() => {
      sincePing += tick
      const now = Date.now()
      // A late tick means this process was stalled: no peer was given the chance to progress.
      const stalled = now - last > 2 * tick
      last = now
      const ping = sincePing >= this.#l.pingIntervalMs
      if (ping) sincePing = 0
      for (const e of this.#entries.values()) this.#check(e, now, stalled, ping)
    }, tick)
    this.#timer.unref()
  }

  /**
   * New limits, in force for the next socket, upgrade and send. Nothing held is closed for them:
   * below a lower limit, newcomers are refused until the count is under it.
   */
  setLimits(l: ListenerLimits): void {
    this.#l = { ...l }
    this.#maxUnauth = l.maxUnauthenticated ?? defaultMaxUnauthenticated(l.maxConnections)
    this.#maxUnauthPerIp = l.maxUnauthenticatedPerIp ?? 8
    if (this.#timer !== undefined && this.#accepting) this.#startTimer()
  }

  /**
   * A certificate and key read again (readTls: a renewed certificate): new TLS handshakes use them,
   * open links keep theirs. False when this listener serves plain ws://: TLS cannot be turned on
   * while it runs.
   */
  useTls(files: { cert: Buffer; key: Buffer }): boolean {
    if (this.#o.tls === undefined) return false
    ;(this.#http as HttpsServer).setSecureContext(files)
    return true
  }

  /** Bytes waiting in send buffers, summed per kind of connection. */
  bufferedByKind(): Record<ConnKind, number> {
    const out: Record<ConnKind, number> = { client: 0, relay: 0, ingress: 0 }
    for (const e of this.#entries.values())
      if (e.ws !== null && e.kind !== undefined) out[e.kind] += e.ws.bufferedAmount
    return out
  }

  /** The frame deadline (progress, not state: a busy link completes frames) and the ping check. */
  #check(e: Entry, now: number, stalled: boolean, ping: boolean): void {
    if (e.state !== 'open' || e.ws === null) return
    if (e.paused || stalled) {
      e.partialSince = 0
      e.alive = true
      return
    }
    if (midFrame(e.ws)) {
      if (e.partialSince === 0 || e.framesAtPartial !== e.frames) {
        e.partialSince = now
        e.framesAtPartial = e.frames
      } else if (now - e.partialSince > (this.#l.frameDeadlineMs ?? this.#l.handshakeTimeoutMs)) {
        this.#close(e, 'frame_deadline')
        return
      }
    } else e.partialSince = 0
    if (ping) {
      if (!e.alive) {
        this.#close(e, 'ping_timeout')
        return
      }
      e.alive = false
      e.ws.ping()
    }
  }

  #connection(socket: Socket): void {
    // A socket reset before this event has no address left: nothing to count it by.
    if (socket.remoteAddress === undefined) {
      socket.destroy()
      return
    }
    const key = `${socket.remoteAddress}|${socket.remotePort ?? 0}`
    if (!this.#accepting || this.#entries.has(key)) {
      socket.destroy()
      return
    }
    const addr = addressKey(socket.remoteAddress)
    const a = this.#byAddr.get(addr)
    if ((a?.unauth ?? 0) >= this.#maxUnauthPerIp) {
      this.#count('address_unauth')
      socket.destroy()
      return
    }
    if (this.#unauthOrder.size >= this.#maxUnauth) {
      const oldest = this.#unauthOrder.values().next().value
      if (oldest === undefined || Date.now() - oldest.since < EVICT_AFTER_MS) {
        this.#count('unauthenticated')
        socket.destroy()
        return
      }
      this.#close(oldest, 'evicted')
    }
    const e: Entry = {
      key,
      socket,
      addr,
      since: Date.now(),
      state: 'raw',
      kind: undefined,
      ws: null,
      conn: null,
      peerId: undefined,
      alive: true,
      paused: false,
      frames: 0,
      partialSince: 0,
      framesAtPartial: 0,
      deadline: undefined,
      closing: null
    }
    this.#entries.set(key, e)
    this.#unauthOrder.add(e)
    this.#addr(addr).unauth++
    this.#o.metrics?.connectionsUnauthenticated.set(this.#unauthOrder.size)
    e.deadline = setTimeout(() => this.#expire(e), this.#l.handshakeTimeoutMs)
    e.deadline.unref()
    socket.once('close', () => this.#release(e))
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const e = this.#entryOf(req.socket)
    if (e === undefined || e.state !== 'raw' || e.closing !== null) {
      socket.destroy()
      return
    }
    const path = (req.url ?? '').split('?')[0]
    const kind: ConnKind | undefined =
      path === '/client' ? 'client' : path === '/relay' ? 'relay' : path === '/ingress' ? 'ingress' : undefined
    if (kind === undefined || !this.#o.kinds.has(kind)) {
      this.#refuse(e, socket, 404, 'bad_request')
      return
    }
    if (!this.#accepting) {
      this.#refuse(e, socket, 503, null)
      return
    }
    const o = this.#l
    if (kind === 'client') {
      const a = this.#addr(e.addr)
      if (a.clients >= o.maxConnectionsPerIp) {
        this.#refuse(e, socket, 503, 'address_clients')
        return
      }
      if (this.#clients >= o.maxConnections - o.reservedPeerSlots) {
        this.#refuse(e, socket, 503, 'client_slots')
        return
      }
      if (this.#clients + this.#peersOpen >= o.maxConnections) {
        this.#refuse(e, socket, 503, 'max_connections')
        return
      }
      this.#clients++
      a.clients++
    } else if (this.#clients + this.#peersOpen >= o.maxConnections) {
      this.#refuse(e, socket, 503, 'max_connections')
      return
    }
    e.state = 'handshake'
    e.kind = kind
    this.#wss.handleUpgrade(req, socket, head, ws => {
      void this.#accept(e, ws)
    })
  }

  async #accept(e: Entry, ws: WebSocket): Promise<void> {
    const kind = e.kind!
    e.ws = ws
    if (e.closing !== null) {
      ws.terminate()
      return
    }
    const reader = new FrameReader(ws, { onOverflow: () => this.#close(e, 'handshake_failed') })
    ws.on('message', () => {
      e.frames++
      e.alive = true
    })
    ws.on('pong', () => {
      e.alive = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      this.#close(e, err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_large' : 'protocol_error')
    })
    ws.once('close', () => {
      if (e.conn !== null) this.#o.onClose(e.conn)
    })
    const o = this.#o
    const left = Math.max(1, e.since + this.#l.handshakeTimeoutMs - Date.now())
    const peerId = await acceptHandshake(
      kind === 'client'
        ? { role: kind, geometry: o.geometry }
        : { role: kind, crypto: o.crypto, geometry: o.geometry, identity: o.identity, keyOf: id => o.keyOf(kind, id) },
      ws,
      reader,
      left
    )
    if (e.closing !== null) return
    if (peerId === null) {
      this.#close(e, 'handshake_failed')
      return
    }
    if (ws.readyState !== ws.OPEN) return
    if (kind !== 'client' && this.#clients + this.#peersOpen >= this.#l.maxConnections) {
      this.#close(e, 'max_connections')
      return
    }
    clearTimeout(e.deadline)
    this.#leaveUnauth(e)
    e.state = 'open'
    e.peerId = peerId
    if (peerId !== undefined) {
      this.#peersOpen++
      const links = this.#peers.get(peerId) ?? []
      links.push(e)
      this.#peers.set(peerId, links)
      while (links.length > PEER_LINKS_PER_ID) this.#close(links.shift()!, 'replaced')
    }
    const conn: Conn = {
      kind,
      peerId,
      send: frame => {
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount + frame.length > this.#l.maxBufferedBytes) return false
        ws.send(frame, { binary: true })
        return true
      },
      close: (code, reason) => {
        ws.close(code, reason)
      },
      get bufferedAmount() {
        return ws.bufferedAmount
      },
      pause: () => {
        if (!e.paused && ws.readyState === ws.OPEN) {
          e.paused = true
          ws.pause()
        }
      },
      resume: () => {
        if (e.paused) {
          e.paused = false
          e.partialSince = 0
          e.alive = true
          ws.resume()
        }
      }
    }
    e.conn = conn
    o.onOpen(conn)
    reader.setHandler(m => o.onMessage(conn, m))
  }

  /** Stop accepting new connections (first step of a graceful shutdown). */
  stopAccepting(): void {
    this.#accepting = false
  }

  async close(): Promise<void> {
    this.#accepting = false
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const e of this.#entries.values()) {
      if (e.closing === null) e.closing = 'stopping'
      if (e.state === 'open' && e.ws !== null) e.ws.close(1001, 'relay stopping')
      else if (e.ws !== null) e.ws.terminate()
      else e.socket.destroy()
    }
    await new Promise<void>(resolve => {
      const t = setTimeout(() => {
        for (const e of this.#entries.values()) {
          e.ws?.terminate()
          e.socket.destroy()
        }
        resolve()
      }, 1000)
      const check = (): void => {
        if (this.#entries.size === 0) {
          clearTimeout(t)
          resolve()
        } else setTimeout(check, 10)
      }
      check()
    })
    this.#wss.close()
    await new Promise<void>(resolve => {
      this.#http.close(() => resolve())
      this.#http.closeAllConnections()
    })
  }

  #entryOf(s: Duplex): Entry | undefined {
    const sock = s as Socket
    return this.#entries.get(`${sock.remoteAddress ?? ''}|${sock.remotePort ?? 0}`)
  }

  #addr(addr: string): { unauth: number; clients: number } {
    let a = this.#byAddr.get(addr)
    if (a === undefined) {
      a = { unauth: 0, clients: 0 }
      this.#byAddr.set(addr, a)
    }
    return a
  }

  #leaveUnauth(e: Entry): void {
    if (!this.#unauthOrder.delete(e)) return
    const a = this.#byAddr.get(e.addr)
    if (a !== undefined) a.unauth--
    this.#o.metrics?.connectionsUnauthenticated.set(this.#unauthOrder.size)
  }

  /** The socket closed, for whatever reason: give back everything it held. */
  #release(e: Entry): void {
    clearTimeout(e.deadline)
    this.#entries.delete(e.key)
    this.#leaveUnauth(e)
    if (e.kind === 'client' && e.state !== 'raw') {
      this.#clients--
      this.#addr(e.addr).clients--
    }
    if (e.state === 'open' && e.peerId !== undefined) {
      this.#peersOpen--
      const links = this.#peers.get(e.peerId)
      const i = links?.indexOf(e) ?? -1
      if (links !== undefined && i >= 0) links.splice(i, 1)
      if (links?.length === 0) this.#peers.delete(e.peerId)
    }
    const a = this.#byAddr.get(e.addr)
    if (a !== undefined && a.unauth <= 0 && a.clients <= 0) this.#byAddr.delete(e.addr)
  }

  /** The handshake deadline: a socket still not authenticated (or refused and still there) goes. */
  #expire(e: Entry): void {
    if (e.closing === null) {
      this.#close(e, 'handshake_timeout')
      return
    }
    e.ws?.terminate()
    e.socket.destroy()
  }

  /** Answer an upgrade with an HTTP refusal; the socket is destroyed once the answer is written, or at its deadline. */
  #refuse(e: Entry, socket: Duplex, status: 404 | 503, reason: ConnRefusalLabel | null): void {
    if (reason !== null) this.#refused(e, reason)
    else e.closing = 'refused'
    socket.end(
      `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\nconnection: close\r\n\r\n`
    )
    clearTimeout(e.deadline)
    e.deadline = setTimeout(() => socket.destroy(), Math.min(CLOSE_TIMEOUT_MS, this.#l.handshakeTimeoutMs))
    e.deadline.unref()
  }

  #refused(e: Entry, reason: ConnRefusalLabel): void {
    e.closing = 'refused'
    this.#count(reason)
  }

  #count(reason: ConnRefusalLabel): void {
    this.#o.metrics?.connectionsRefused.inc({ reason })
    this.#notices.note('connections refused', { reason })
  }

  /** Give up on a socket: counted once by reason, then terminated (a close frame first where it helps a peer see why). */
  #close(e: Entry, reason: ConnCloseLabel): void {
    if (e.closing !== null) return
    e.closing = reason
    const link: ConnLinkLabel = e.kind === undefined ? 'unknown' : e.kind === 'relay' ? 'peer' : e.kind
    this.#o.metrics?.connectionsClosed.inc({ link, reason })
    this.#notices.note('connection closed', { link, reason })
    this.#leaveUnauth(e)
    if ((reason === 'handshake_timeout' || reason === 'handshake_failed') && e.kind !== undefined)
      this.#o.onHandshakeFailed?.(e.kind)
    const ws = e.ws
    if (ws === null) {
      e.socket.destroy()
      return
    }
    // ws answered a bad frame with its close frame (1009, 1002, 1007) and ends the socket itself,
    // waiting at most CLOSE_TIMEOUT_MS for the peer: the peer sees why.
    if (reason === 'too_large' || reason === 'protocol_error') return
    if (
      ws.readyState === ws.OPEN &&
      (reason === 'handshake_failed' || reason === 'handshake_timeout' || reason === 'max_connections')
    )
      ws.close(1008, 'handshake failed')
    ws.terminate()
  }
}

/**
 * The certificate and key of `tls`, checked as a pair: the same one-line config error at start
 * and on a reload, naming the files, never their contents.
 */
export function readTls(tls: TlsFiles): { cert: Buffer; key: Buffer } {
  try {
    const files = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }
    createSecureContext(files)
    return files
  } catch (e) {
    throw RelayError.CONFIG_INVALID(
      'tls',
      'must name a readable PEM certificate (certFile) and its private key (keyFile)',
      `${tls.certFile}, ${tls.keyFile}: ${errorCode(e)}`
    )
  }
}

/** The unauthenticated pool when the config does not set it: a quarter of the slots, 8 to 128. */
export function defaultMaxUnauthenticated(maxConnections: number): number {
  return Math.min(128, Math.max(8, Math.floor(maxConnections / 4)))
}

/**
 * True while the ws receiver holds part of a frame (bytes buffered or a frame header read but its
 * payload incomplete). Reads ws 8 internals (`_receiver._state`, `_bufferedBytes`, `_fragments`);
 * test/daemon/relay/mid-frame.test.ts fails if an upgrade of ws changes them.
 */
export function midFrame(ws: WebSocket): boolean {
  const r = (ws as unknown as { _receiver?: { _state?: number; _bufferedBytes?: number; _fragments?: unknown[] } })
    ._receiver
  if (r === undefined) return false
  return (r._bufferedBytes ?? 0) > 0 || (r._state ?? 0) !== 0 || (r._fragments?.length ?? 0) > 0
}
