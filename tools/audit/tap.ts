/**
 * A recording tap: a TCP proxy in front of a relay's listener that forwards every byte unchanged
 * and, like an observer on the wire, parses the WebSocket frames going to the relay (after the
 * HTTP upgrade; client frames are masked, and the mask is on the wire too). It reports each
 * binary message with its arrival time. Used by `sealmix audit --devnet`.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export type TapFrame = (t: number, message: Buffer) => void

/** Incremental parser of one direction of a ws connection, starting with the HTTP upgrade request. */
export class WsParser {
  #buf: Buffer = Buffer.alloc(0)
  #upgraded = false
  #parts: Buffer[] = []

  constructor(private readonly onMessage: (m: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    if (!this.#upgraded) {
      const end = this.#buf.indexOf('\r\n\r\n')
      if (end < 0) return
      this.#upgraded = true
      this.#buf = this.#buf.subarray(end + 4)
    }
    for (;;) {
      const b = this.#buf
      if (b.length < 2) return
      const fin = (b[0]! & 0x80) !== 0
      const opcode = b[0]! & 0x0f
      const masked = (b[1]! & 0x80) !== 0
      let len = b[1]! & 0x7f
      let off = 2
      if (len === 126) {
        if (b.length < 4) return
        len = b.readUInt16BE(2)
        off = 4
      } else if (len === 127) {
        if (b.length < 10) return
        len = Number(b.readBigUInt64BE(2))
        off = 10
      }
      const maskAt = off
      if (masked) off += 4
      if (b.length < off + len) return
      const payload = Buffer.from(b.subarray(off, off + len))
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[maskAt + (i & 3)]!
      this.#buf = b.subarray(off + len)
      if (opcode === 0x2 || opcode === 0x0) {
        this.#parts.push(payload)
        if (fin) {
          const m = Buffer.concat(this.#parts)
          this.#parts = []
          this.onMessage(m)
        }
      }
    }
  }
}

export class Tap {
  #server: Server | null = null
  readonly #sockets = new Set<Socket>()

  constructor(
    private readonly listenPort: number,
    private readonly targetPort: number,
    private readonly onFrame: TapFrame
  ) {}

  async start(): Promise<void> {
    const s = createServer(client => {
      const upstream = connect(this.targetPort, '127.0.0.1')
      this.#sockets.add(client)
      this.#sockets.add(upstream)
      const parser = new WsParser(m => this.onFrame(performance.now(), m))
      client.on('data', (d: Buffer) => {
        parser.push(d)
        upstream.write(d)
      })
      upstream.on('data', (d: Buffer) => client.write(d))
      const close = (): void => {
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('close', close)
      upstream.on('close', close)
      client.on('error', close)
      upstream.on('error', close)
    })
    this.#server = s
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(this.listenPort, '127.0.0.1', () => resolve())
    })
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    const s = this.#server
    if (s !== null) await new Promise<void>(resolve => s.close(() => resolve()))
  }
}
