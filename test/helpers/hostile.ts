/**
 * Hostile neighbours for test/hostile/ and the abuse benchmark: a flood in its own process
 * (test/helpers/conn-flood.mjs), a raw socket that speaks just enough WebSocket to misbehave, and
 * an authenticated link from a chosen local address.
 */
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { FrameReader } from '../../daemon/io/frame-reader.ts'
import { dialHandshake } from '../../daemon/io/handshake.ts'
import {
  type CryptoSuite,
  encodeFrame,
  encodeHello,
  FRAME,
  NETWORK_GEOMETRY as G,
  type LinkRole
} from '../../mix/index.ts'

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'conn-flood.mjs')

export interface FloodStats {
  open: number
  connects: number
  closes: number
  sent: number
}
export interface Flood {
  readonly stats: FloodStats
  stop: () => Promise<void>
}

/** Start conn-flood.mjs; resolves once it has reported (its sockets are then on their way). */
export async function startFlood(o: {
  mode: 'slots' | 'garbage'
  port: number
  localAddress: string
  count: number
  reopenMs?: number
  host?: string
  frame?: Buffer
}): Promise<Flood> {
  const arg = {
    mode: o.mode,
    host: o.host ?? '127.0.0.1',
    port: o.port,
    localAddress: o.localAddress,
    count: o.count,
    reopenMs: o.reopenMs,
    frame: o.frame?.toString('base64'),
    hello: encodeFrame(
      G,
      FRAME.HELLO,
      encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })
    ).toString('base64')
  }
  const p = spawn(process.execPath, [SCRIPT, JSON.stringify(arg)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const stats: FloodStats = { open: 0, connects: 0, closes: 0, sent: 0 }
  let partial = ''
  let first!: () => void
  const reported = new Promise<void>(resolve => {
    first = resolve
  })
  p.stdout.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n')
    partial = lines.pop()!
    if (lines.length > 0) {
      Object.assign(stats, JSON.parse(lines[lines.length - 1]!))
      first()
    }
  })
  const exited = new Promise<void>(resolve => p.once('exit', () => resolve()))
  await Promise.race([reported, exited])
  return {
    stats,
    async stop() {
      if (p.exitCode !== null) return
      p.stdin.end()
      const t = setTimeout(() => p.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(t)
    }
  }
}

/** A TCP socket that has been upgraded to WebSocket on `path` and does nothing on its own (no close replies, no pongs). */
export async function rawUpgrade(
  port: number,
  path: string,
  localAddress = '127.0.0.1'
): Promise<{ socket: Socket; status: number; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress })
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
  )
  const status = await new Promise<number>(resolve => {
    let head = ''
    const f = (d: Buffer): void => {
      head += d.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', f)
      resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0))
    }
    socket.on('data', f)
    void closed.then(() => resolve(0))
  })
  return { socket, status, closed }
}

/** A client-to-server WebSocket frame (binary, masked with a zero key, so the payload goes as it is). */
export function maskedFrame(payload: Buffer): Buffer {
  const n = payload.length
  const head =
    n < 126
      ? Buffer.from([0x82, 0x80 | n])
      : n < 65536
        ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255])
        : Buffer.concat([
            Buffer.from([0x82, 0x80 | 127]),
            (() => {
              const b = Buffer.alloc(8)
              b.writeBigUInt64BE(BigInt(n))
              return b
            })()
          ])
  return Buffer.concat([head, Buffer.alloc(4), payload])
}

/** An authenticated link (relay or ingress) to a listener, dialled from `localAddress`. */
export async function linkFrom(
  c: CryptoSuite,
  port: number,
  role: LinkRole,
  me: { id: string; secretKey: Uint8Array },
  peer: { id: string; publicKey: Uint8Array },
  localAddress: string,
  timeoutMs = 2000
): Promise<{ ws: WebSocket; ok: boolean; reader: FrameReader }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/${role === 'ingress' ? 'ingress' : 'relay'}`, {
    perMessageDeflate: false,
    localAddress,
    handshakeTimeout: timeoutMs
  })
  ws.on('error', () => {})
  const reader = new FrameReader(ws)
  const opened = await new Promise<boolean>(resolve => {
    ws.once('open', () => resolve(true))
    ws.once('close', () => resolve(false))
  })
  if (!opened) return { ws, ok: false, reader }
  const ok = await dialHandshake(
    c,
    G,
    ws,
    reader,
    { id: Buffer.from(me.id, 'hex'), secretKey: me.secretKey },
    role,
    Buffer.from(peer.id, 'hex'),
    peer.publicKey,
    timeoutMs
  )
  return { ws, ok, reader }
}
