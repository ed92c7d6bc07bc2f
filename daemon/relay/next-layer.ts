/**
 * The relay's outgoing links: one authenticated link to each relay of the next layer of the
 * network document in use, kept in step with that document (links to relays it no longer lists
 * are closed; new ones are dialled), and a stock of link-padding cover per link, built off the
 * main thread for the neighbour's key of the current epoch. New limits (a reload) go to every
 * link, open or not, without closing any.
 */
import {
  type CryptoSuite,
  NETWORK_GEOMETRY,
  packetFrame,
  type RelayDescriptor,
  type Rng,
  type Sphinx
} from '../../mix/index.ts'
import { type LinkLimits, OutLink } from '../io/index.ts'
import type { RelayMetrics } from './metrics.ts'

export interface NextLayerOptions {
  readonly crypto: CryptoSuite
  readonly sphinx: Sphinx
  readonly rng: Rng
  readonly identity: { readonly id: Buffer; readonly secretKey: Uint8Array }
  readonly limits: LinkLimits & { readonly pingIntervalMs: number }
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
  readonly metrics: RelayMetrics
  /** Build `count` one-hop cover packets to a neighbour (the unwrap workers). */
  readonly buildCover: (count: number, neighborId: string, neighborKey: string) => Promise<Buffer>
}

const STOCK_LOW = 128
const STOCK_MAX = 1024

export class NextLayer {
  readonly #o: NextLayerOptions
  readonly #links = new Map<string, OutLink>()
  /** The descriptor each link was made for (address) and whose key cover is built with. */
  readonly #peers = new Map<string, RelayDescriptor>()
  readonly #stock = new Map<string, Buffer[]>()
  readonly #pending = new Set<string>()
  #generation = 0
  #limits: LinkLimits

  constructor(o: NextLayerOptions) {
    this.#o = o
    this.#limits = o.limits
  }

  /** Limits for every link from now on: the buffer cap at once, deadlines and pings from each link's next dial. */
  setLimits(l: LinkLimits): void {
    this.#limits = l
    for (const link of this.#links.values()) link.setLimits(l)
  }

  /** Ids of the links that are up. */
  get up(): string[] {
    return [...this.#links.values()].filter(l => l.ready).map(l => l.peerId)
  }
  get bufferedAmount(): number {
    let n = 0
    for (const l of this.#links.values()) n += l.bufferedAmount
    return n
  }
  has(id: string): boolean {
    return this.#links.has(id)
  }

  /** Follow a new document's next layer; cover already built for the old keys is thrown away. */
  sync(next: readonly RelayDescriptor[]): void {
    this.#generation++
    this.#stock.clear()
    const want = new Map(next.map(r => [r.id, r]))
    for (const [id, l] of this.#links) {
      if (want.get(id)?.address === this.#peers.get(id)?.address) continue
      this.#links.delete(id)
      void l.close()
    }
    this.#peers.clear()
    for (const r of next) {
      this.#peers.set(r.id, r)
      if (this.#links.has(r.id)) continue
      const o = this.#o
      const link = new OutLink({
        crypto: o.crypto,
        geometry: NETWORK_GEOMETRY,
        identity: o.identity,
        role: 'relay',
        peerId: r.id,
        peerKey: Buffer.from(r.identityKey, 'hex'),
        address: r.address,
        maxBufferedBytes: this.#limits.maxBufferedBytes,
        handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
        pingIntervalMs: this.#limits.pingIntervalMs,
        minRetryMs: o.minRetryMs,
        maxRetryMs: o.maxRetryMs,
        onUp: () => {
          o.metrics.connections.inc({ link: 'peer' })
          this.#refill(r.id)
        },
        onDown: () => o.metrics.connections.dec({ link: 'peer' }),
        onHandshakeFailed: () => o.metrics.handshakeFailures.inc({ link: 'peer' })
      })
      this.#links.set(r.id, link)
      link.start()
    }
  }

  /** Hold every link's writes (see OutLink.cork) until uncork(). */
  cork(): void {
    for (const l of this.#links.values()) l.cork()
  }
  uncork(): void {
    for (const l of this.#links.values()) l.uncork()
  }

  /** Send one PACKET frame as it is; false when the link is down or its buffer is full. */
  send(to: string, frame: Buffer): boolean {
    return this.#links.get(to)?.send(frame) ?? false
  }

  /** A cover PACKET frame for the link to `to`, from stock (refilled off the main thread when low). */
  cover(to: string): Buffer {
    return packetFrame(NETWORK_GEOMETRY, this.#coverPacket(to))
  }

  #coverPacket(to: string): Buffer {
    const stock = this.#stock.get(to)
    if (stock === undefined || stock.length < STOCK_LOW) this.#refill(to)
    const p = stock?.pop()
    if (p !== undefined) return p
    // Out of stock: build one here rather than break the padding invariant.
    const r = this.#peers.get(to)!
    return this.#o.sphinx.createPacket(
      [
        {
          id: Buffer.from(to, 'hex'),
          publicKey: Buffer.from(r.mixKey, 'hex'),
          commands: [
            { type: 'node_delay', delayMs: 0 },
            { type: 'recipient', id: Buffer.alloc(32) }
          ]
        }
      ],
      this.#o.rng.bytes(NETWORK_GEOMETRY.userPayloadBytes),
      this.#o.rng
    )
  }

  #refill(to: string): void {
    const r = this.#peers.get(to)
    if (r === undefined || this.#pending.has(to)) return
    this.#pending.add(to)
    const generation = this.#generation
    void this.#o.buildCover(256, to, r.mixKey).then(
      buf => {
        this.#pending.delete(to)
        if (this.#generation !== generation) return // built for the neighbour's previous key
        const P = NETWORK_GEOMETRY.packetBytes
        const stock = this.#stock.get(to) ?? []
        for (let i = 0; i < buf.length / P; i++) stock.push(buf.subarray(i * P, (i + 1) * P))
        this.#stock.set(to, stock.slice(-STOCK_MAX))
      },
      () => this.#pending.delete(to)
    )
  }

  async close(): Promise<void> {
    await Promise.all([...this.#links.values()].map(async l => await l.close()))
  }
}
