/**
 * WebSocket frames timed on the wire (bench code): runs tcpdump on loopback, then reassembles
 * each TCP flow to the given ports from the capture, parses the WebSocket frames (unmasking the
 * first bytes of each payload) and reports, per frame, the kernel timestamp of the segment that
 * completed it and its first payload bytes. Needs tcpdump and the right to capture.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'

export interface WireFrame {
  readonly t: number
  readonly dport: number
  readonly head: Buffer
}

export class Capture {
  readonly #file: string
  readonly #ports: number[]
  #proc: ChildProcess | null = null

  constructor(file: string, ports: number[]) {
    this.#file = file
    this.#ports = ports
  }

  async start(): Promise<void> {
    const filter = this.#ports.map(p => `tcp dst port ${p}`).join(' or ')
    this.#proc = spawn('tcpdump', ['-i', 'lo', '-w', this.#file, '-s', '0', '-U', '-B', '65536', filter], {
      stdio: 'ignore'
    })
    await new Promise(resolve => setTimeout(resolve, 1000))
  }

  /** Stop capturing and return every frame sent to the ports, `headBytes` of its unmasked payload each. */
  async stop(headBytes: number): Promise<WireFrame[]> {
    const p = this.#proc!
    await new Promise(resolve => setTimeout(resolve, 300))
    p.kill('SIGINT')
    await new Promise(resolve => p.once('exit', resolve))
    const frames = parse(readFileSync(this.#file), this.#ports, headBytes)
    rmSync(this.#file, { force: true })
    return frames
  }
}

function parse(b: Buffer, ports: number[], headBytes: number): WireFrame[] {
  const linkType = b.readUInt32LE(20)
  const flows = new Map<string, { buf: Buffer; t: number[]; ends: number[]; dport: number; nextSeq: number | null }>()
  const out: WireFrame[] = []
  let off = 24
  while (off + 16 <= b.length) {
    const t = b.readUInt32LE(off) + b.readUInt32LE(off + 4) / 1e6
    const incl = b.readUInt32LE(off + 8)
    const pkt = b.subarray(off + 16, off + 16 + incl)
    off += 16 + incl
    const ipAt = linkType === 113 ? 16 : linkType === 276 ? 20 : 14
    const ip = pkt.subarray(ipAt)
    if (ip[0]! >> 4 !== 4 || ip[9] !== 6) continue
    const ihl = (ip[0]! & 15) * 4
    const tcp = ip.subarray(ihl, ip.readUInt16BE(2))
    const sport = tcp.readUInt16BE(0)
    const dport = tcp.readUInt16BE(2)
    if (!ports.includes(dport)) continue
    const seq = tcp.readUInt32BE(4)
    const data = tcp.subarray((tcp[12]! >> 4) * 4)
    if (data.length === 0) continue
    const key = `${sport}>${dport}`
    let f = flows.get(key)
    if (f === undefined) {
      f = { buf: Buffer.alloc(0), t: [], ends: [], dport, nextSeq: null }
      flows.set(key, f)
    }
    if (f.nextSeq !== null && seq !== f.nextSeq) continue // a retransmission; loopback does not reorder
    f.nextSeq = (seq + data.length) >>> 0
    f.buf = Buffer.concat([f.buf, data])
    // Parse every complete WebSocket frame now buffered; each completes at this segment's time.
    for (;;) {
      const h = f.buf
      if (h.length < 2) break
      let len = h[1]! & 127
      let at = 2
      if (len === 126) {
        if (h.length < 4) break
        len = h.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (h.length < 10) break
        len = Number(h.readBigUInt64BE(2))
        at = 10
      }
      const masked = (h[1]! & 128) !== 0
      const mask = masked ? h.subarray(at, at + 4) : null
      if (masked) at += 4
      if (h.length < at + len) break
      const head = Buffer.from(h.subarray(at, at + Math.min(len, headBytes)))
      if (mask !== null) for (let i = 0; i < head.length; i++) head[i] = head[i]! ^ mask[i & 3]!
      if ((h[0]! & 15) === 2) out.push({ t, dport: f.dport, head })
      f.buf = h.subarray(at + len)
    }
  }
  return out
}
