/**
 * Loop cover (Loopix lambda M): the relay sends packets on a Poisson schedule through one relay of
 * each following layer and back to itself, and tracks how many return. A falling success ratio
 * means loss, a flooding or an n-1 attack around this relay.
 */
import { type NetworkDocument, type PathHop, type Rng, randomInt, type Sphinx } from '../../mix/index.ts'
import type { RelayMetrics } from './metrics.ts'

const LOST_AFTER_MS = 30_000
const HISTORY = 200

export class Loops {
  readonly #sent = new Map<string, number>()
  #history: boolean[] = []

  constructor(
    private readonly o: {
      sphinx: Sphinx
      rng: Rng
      myId: string
      myLayer: number
      myMixKey: () => Buffer | undefined
      doc: () => NetworkDocument
      metrics: RelayMetrics
    }
  ) {}

  /** Exponential gap in ms before the next loop at `ratePerSec`. */
  nextGapMs(ratePerSec: number): number {
    const u = (this.o.rng.bytes(4).readUInt32BE() + 1) / 4294967297
    return (-Math.log(u) / ratePerSec) * 1000
  }

  /** Build one loop packet; returns its first hop and bytes, or null if a layer is empty or this relay has no key in the document's epoch. */
  make(nowMs: number): { to: string; packet: Buffer } | null {
    const path: PathHop[] = []
    const doc = this.o.doc()
    const myMixKey = this.o.myMixKey()
    if (myMixKey === undefined) return null
    for (let k = 1; k <= 3; k++) {
      const layer = doc.relays.filter(r => r.layer === (this.o.myLayer + k) % 4)
      if (layer.length === 0) return null
      const r = layer[randomInt(this.o.rng, layer.length)]!
      path.push({
        id: Buffer.from(r.id, 'hex'),
        publicKey: Buffer.from(r.mixKey, 'hex'),
        commands: [{ type: 'node_delay', delayMs: 0 }]
      })
    }
    const me = Buffer.from(this.o.myId, 'hex')
    path.push({
      id: me,
      publicKey: myMixKey,
      commands: [
        { type: 'node_delay', delayMs: 0 },
        { type: 'recipient', id: me }
      ]
    })
    const payload = this.o.rng.bytes(this.o.sphinx.geometry.userPayloadBytes)
    this.#sent.set(payload.subarray(0, 16).toString('hex'), nowMs)
    this.o.metrics.loopsSent.inc()
    this.o.metrics.coverSent.inc({ kind: 'loop' })
    return {
      to: Buffer.from(path[0]!.id).toString('hex'),
      packet: this.o.sphinx.createPacket(path, payload, this.o.rng)
    }
  }

  /** A delivered payload addressed to this relay: a returning loop if we sent it. */
  returned(payload: Buffer): boolean {
    const id = payload.subarray(0, 16).toString('hex')
    if (!this.#sent.delete(id)) return false
    this.o.metrics.loopsReturned.inc()
    this.#record(true)
    return true
  }

  /** Count loops that did not come back in time as lost, and update the ratio. */
  sweep(nowMs: number): void {
    for (const [id, t] of this.#sent) {
      if (nowMs - t < LOST_AFTER_MS) break
      this.#sent.delete(id)
      this.#record(false)
    }
  }

  #record(ok: boolean): void {
    this.#history.push(ok)
    if (this.#history.length > HISTORY) this.#history = this.#history.slice(-HISTORY)
    this.o.metrics.loopSuccess.set(this.#history.filter(x => x).length / this.#history.length)
  }
}
