/**
 * SealmixClient: the SDK a chat client embeds. It keeps one connection to its entry gateway and
 * sends on Poisson schedules (rates from the network document): each send slot carries the next
 * queued fragment, or drop cover when there is none; loop cover comes back through the client's
 * own mailbox. Every real packet takes a fresh random path and carries a SURB for the ingress's
 * ack. The mailbox is pulled on every (re)connect and then at a fixed interval.
 *
 * Events: 'acked' (a fragment's ack), 'delivered' (the ingress handed the message to the
 * homeserver), 'failed' (refused, or no ack after every attempt), 'received' (an envelope opened
 * and verified by open()), 'rejected' (an envelope that failed a verification step, with its code),
 * 'up' and 'down' (the gateway connection).
 */
import { EventEmitter } from 'node:events'
import {
  clientRates, randomInt, encodeSubmit, exitGatewayOf, exponential, FRAME, fragmentBytes, fragmentMessage, hopsFor, KIND_TO_DEVICE_V1, NETWORK_GEOMETRY, openMessage, parseAck,
  routeVia, sealIngressPayload, sealMessage, signDelivery, Sphinx, systemRng, userIdDomain,
  type ClientRates, type CryptoSuite, type DirectoryClient, type NetworkDocument, type Rng, type SealCode, type SenderCert, type ServerCert, type TrustStore, type VerifiedMessage, type X25519KeyPair
} from '../mix/index.ts'
import { ClientError } from './errors.ts'
import { GatewayLink } from './link.ts'
import { Outbox, type OutboxEvent, type OutFragment } from './outbox.ts'
import { SurbTable } from './surbs.ts'

const G = NETWORK_GEOMETRY

export interface Device {
  readonly userId: string
  readonly deviceId: string
  readonly x25519: X25519KeyPair
  readonly ed25519: { readonly publicKey: Uint8Array, readonly secretKey: Uint8Array }
}

/** What a sender knows about a recipient device: its keys and the capability its owner shared. */
export interface Contact {
  readonly userId: string
  readonly deviceId: string
  readonly x25519: Uint8Array
  readonly capability: { readonly keyId: number, readonly secretKey: Uint8Array }
}

export interface ClientOptions {
  readonly crypto: CryptoSuite
  /** A verified network document (loadNetwork), or the first one from `directory`. */
  readonly network: NetworkDocument
  /**
   * Follow directory authorities: the client refreshes this on an eighth of the epoch and builds
   * every packet with its current document (fresh mix keys each epoch).
   */
  readonly directory?: DirectoryClient
  /** The relay id of this client's entry gateway (its mailbox lives there). */
  readonly gatewayId: string
  readonly device: Device
  /** 32 secret random bytes that name this client's mailbox; keep them across restarts. */
  readonly mailboxId: Buffer
  readonly trust: TrustStore
  /** Needed to send: this device's SenderCert and its server's ServerCert (from the ingress). */
  readonly senderCert?: SenderCert
  readonly serverCert?: ServerCert
  readonly ackTimeoutMs?: number
  readonly maxAttempts?: number
  readonly maxQueuedFragments?: number
  readonly pullIntervalMs?: number
  /** Drop and loop cover (default on). Off only for tools and tests that must not send cover. */
  readonly cover?: boolean
  readonly rates?: Partial<ClientRates>
  readonly now?: () => number
  readonly rng?: Rng
  readonly ca?: Buffer
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
}

export interface ClientStats {
  realSent: number
  dropSent: number
  loopsSent: number
  loopsReturned: number
  acks: number
  delivered: number
  failed: number
  received: number
  rejected: number
}

export interface SendOptions {
  readonly contentType?: number
  readonly contentHint?: number
}

export class SealmixClient extends EventEmitter {
  readonly stats: ClientStats = { realSent: 0, dropSent: 0, loopsSent: 0, loopsReturned: 0, acks: 0, delivered: 0, failed: 0, received: 0, rejected: 0 }
  readonly #o: ClientOptions
  readonly #c: CryptoSuite
  readonly #rng: Rng
  readonly #now: () => number
  readonly #sphinx: Sphinx
  readonly #rates: ClientRates
  readonly #outbox: Outbox
  readonly #surbs: SurbTable
  readonly #link: GatewayLink
  readonly #timers = new Set<NodeJS.Timeout>()
  #closed = false

  constructor (o: ClientOptions) {
    super()
    if (o.mailboxId.length !== 32) throw new ClientError('CLIENT_CONFIG_INVALID', 'mailboxId must be 32 bytes')
    const gw = o.network.relays.find(r => r.id === o.gatewayId && r.role === 'gateway')
    if (gw === undefined) throw new ClientError('CLIENT_NO_ROUTE', 'the entry gateway is not a gateway of the network document')
    this.#o = o
    this.#c = o.crypto
    this.#rng = o.rng ?? systemRng(o.crypto)
    this.#now = o.now ?? Date.now
    this.#sphinx = new Sphinx(o.crypto)
    this.#rates = { ...clientRates(o.network), ...o.rates }
    this.#outbox = new Outbox({ ackTimeoutMs: o.ackTimeoutMs ?? 15_000, maxAttempts: o.maxAttempts ?? 5, maxFragments: o.maxQueuedFragments ?? 4096 })
    this.#surbs = new SurbTable(16_384, 3600_000)
    this.#link = new GatewayLink({
      crypto: o.crypto, geometry: G, address: gw.address, role: 'client', ca: o.ca, minRetryMs: o.minRetryMs, maxRetryMs: o.maxRetryMs,
      onUp: () => { this.pull(); this.emit('up') },
      onDown: () => this.emit('down'),
      onFrame: (kind, body) => { if (kind === FRAME.MAILBOX) this.#onMailbox(body) }
    })
  }

  /** The document packets are built with now. */
  get network (): NetworkDocument { return this.#o.directory?.current() ?? this.#o.network }

  get connected (): boolean { return this.#link.up }
  get pending (): number { return this.#outbox.messages }

  start (): void {
    this.#link.start()
    this.#poisson(this.#rates.clientRatePerSec, () => this.#sendSlot())
    if (this.#o.cover !== false) this.#poisson(this.#rates.clientLoopRatePerSec, () => this.#sendLoop())
    this.#every(this.#o.pullIntervalMs ?? 1000, () => this.pull())
    const dir = this.#o.directory
    if (dir !== undefined) {
      let busy = false
      this.#every(Math.min(30_000, Math.max(250, Math.floor((dir.schedule?.epochMs ?? 8000) / 8))), () => {
        if (busy) return
        busy = true
        void dir.refresh().catch(() => null).finally(() => { busy = false })
      })
    }
    this.#every(250, () => { this.#handle(this.#outbox.tick(this.#now())); this.#surbs.expire(this.#now()) })
  }

  close (): void {
    this.#closed = true
    this.pause()
  }

  /** Go offline (an app sent to the background): disconnect and stop sending; state is kept. */
  pause (): void {
    for (const t of this.#timers) { clearTimeout(t); clearInterval(t) }
    this.#timers.clear()
    this.#link.close()
  }

  /** Come back online after pause(): reconnect, pull the mailbox, send what waits. */
  resume (): void {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client is closed')
    if (this.#timers.size === 0) this.start()
  }

  /**
   * Seal `content` to a contact's device and queue it for that device's ingress. Returns the
   * message id (hex) that the 'delivered' or 'failed' event will name.
   */
  send (to: Contact, content: Uint8Array | string, opts: SendOptions = {}): string {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client is closed')
    const { senderCert, serverCert } = this.#o
    if (senderCert === undefined) throw new ClientError('CLIENT_CONFIG_INVALID', 'sending needs a SenderCert (fetch one from the ingress)')
    const server = userIdDomain(to.userId)
    const ingress = this.network.ingresses.find(i => i.serverName === server)
    if (ingress === undefined) throw new ClientError('CLIENT_NO_ROUTE', 'no ingress in the network document serves the recipient\'s server')
    const now = this.#now()
    const envelope = sealMessage(this.#c, { contentType: opts.contentType ?? 8, contentHint: opts.contentHint, content: typeof content === 'string' ? Buffer.from(content) : content, senderCert, serverCert }, this.#o.device.x25519, to.x25519, this.#rng)
    const dest = `${to.userId}/${to.deviceId}`
    const request = encodeSubmit({ kind: KIND_TO_DEVICE_V1, dest, envelope, auth: signDelivery(this.#c, to.capability.secretKey, to.capability.keyId, dest, now, envelope) })
    return this.submit(ingress.id, request)
  }

  /** Queue an encoded SubmitRequest (for example a v2 batch) for an ingress; returns its message id. */
  submit (ingressId: string, request: Uint8Array): string {
    if (!this.network.ingresses.some(i => i.id === ingressId)) throw new ClientError('CLIENT_NO_ROUTE', 'the ingress is not in the network document')
    const messageId = this.#rng.bytes(16)
    const fragments = fragmentMessage(request, messageId, fragmentBytes(G, true))
    const id = messageId.toString('hex')
    if (!this.#outbox.add(id, ingressId, fragments, this.#now())) throw new ClientError('CLIENT_QUEUE_FULL', 'too many fragments are waiting; try again after some are delivered')
    return id
  }

  /** Recipient side: open an envelope that arrived for this device and run every verification step. */
  open (envelope: Uint8Array): { ok: true, value: VerifiedMessage } | { ok: false, code: SealCode } {
    const d = this.#o.device
    const r = openMessage(this.#c, envelope, d.x25519, this.#o.trust, { nowMs: this.#now(), self: { userId: d.userId, deviceId: d.deviceId } })
    if (r.ok) { this.stats.received++; this.emit('received', r.value); return r }
    this.stats.rejected++
    this.emit('rejected', { code: r.code })
    return { ok: false, code: r.code }
  }

  /** Ask the gateway for what waits in the mailbox (answered with a constant number of frames). */
  pull (): void {
    this.#link.send(FRAME.PULL, this.#o.mailboxId)
  }

  #sendSlot (): void {
    if (!this.#link.up) return
    const f = this.#outbox.next()
    if (f !== undefined) { this.#sendFragment(f); return }
    if (this.#o.cover !== false) this.#sendDrop()
  }

  #sendFragment (f: OutFragment): void {
    const doc = this.network
    const ingress = doc.ingresses.find(i => i.id === f.message.ingressId)!
    const exit = exitGatewayOf(doc, this.#rng, ingress.id)
    const surbId = this.#rng.bytes(16)
    const back = hopsFor(routeVia(doc, this.#rng, exit, this.#o.gatewayId), this.#rng, this.#rates.hopDelayMs, [{ type: 'recipient', id: this.#o.mailboxId }, { type: 'surb_reply', id: surbId }])
    const { surb, token } = this.#sphinx.createSurb(back, this.#rng)
    const payload = sealIngressPayload(this.#c, G, f.bytes, surb, Buffer.from(ingress.boxKey, 'hex'))
    const out = hopsFor(routeVia(doc, this.#rng, this.#o.gatewayId, exit), this.#rng, this.#rates.hopDelayMs, [{ type: 'recipient', id: Buffer.from(ingress.id, 'hex') }])
    if (!this.#link.send(FRAME.PACKET, this.#sphinx.createPacket(out, payload, this.#rng))) { this.#outbox.unshift(f); return }
    this.#surbs.add(surbId, token, { kind: 'ack', messageId: f.message.id, index: f.index }, this.#now())
    this.#outbox.markSent(f, this.#now())
    this.stats.realSent++
  }

  /** Drop cover: a full path to a random gateway with an all-zero recipient, discarded there. */
  #sendDrop (): void {
    const doc = this.network
    const gateways = doc.relays.filter(r => r.role === 'gateway')
    const last = gateways[randomInt(this.#rng, gateways.length)]!.id
    const hops = hopsFor(routeVia(doc, this.#rng, this.#o.gatewayId, last), this.#rng, this.#rates.hopDelayMs, [{ type: 'recipient', id: Buffer.alloc(32) }])
    if (this.#link.send(FRAME.PACKET, this.#sphinx.createPacket(hops, this.#rng.bytes(G.userPayloadBytes), this.#rng))) this.stats.dropSent++
  }

  /** Loop cover: a SURB to our own mailbox, used by ourselves; it looks like any other packet. */
  #sendLoop (): void {
    if (!this.#link.up) return
    const surbId = this.#rng.bytes(16)
    const hops = hopsFor(routeVia(this.network, this.#rng, this.#o.gatewayId, this.#o.gatewayId), this.#rng, this.#rates.hopDelayMs, [{ type: 'recipient', id: this.#o.mailboxId }, { type: 'surb_reply', id: surbId }])
    const { surb, token } = this.#sphinx.createSurb(hops, this.#rng)
    const { packet } = this.#sphinx.packetFromSurb(surb, this.#rng.bytes(G.userPayloadBytes))
    if (!this.#link.send(FRAME.PACKET, packet)) return
    this.#surbs.add(surbId, token, { kind: 'loop' }, this.#now())
    this.stats.loopsSent++
  }

  /**
   * A MAILBOX frame: u64 delivery id ‖ SURB id ‖ body. Every frame is acknowledged, cover too (an
   * unknown id costs the gateway nothing), so the ack count says nothing about how many were real.
   */
  #onMailbox (body: Buffer): void {
    this.#link.send(FRAME.ACK, body.subarray(0, 8))
    const e = this.#surbs.take(body.subarray(8, 24))
    if (e === undefined) return
    const reply = this.#sphinx.decryptSurbPayload(body.subarray(24, 24 + G.bodyBytes), e.token)
    if (reply === null) return
    if (e.use.kind === 'loop') { this.stats.loopsReturned++; return }
    const ack = parseAck(reply)
    if (!ack.ok || ack.value.messageId.toString('hex') !== e.use.messageId || ack.value.index !== e.use.index) return
    this.stats.acks++
    this.#handle(this.#outbox.onAck(e.use.messageId, e.use.index, ack.value.status, this.#now()))
  }

  #handle (events: OutboxEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'delivered') this.stats.delivered++
      if (ev.type === 'failed') this.stats.failed++
      this.emit(ev.type, ev)
    }
  }

  #poisson (ratePerSec: number, f: () => void): void {
    if (!(ratePerSec > 0)) return
    const next = (): void => {
      const t = setTimeout(() => {
        this.#timers.delete(t)
        if (this.#closed) return
        f()
        next()
      }, exponential(this.#rng, 1000 / ratePerSec))
      this.#timers.add(t)
    }
    next()
  }

  #every (ms: number, f: () => void): void {
    const t = setInterval(f, ms)
    this.#timers.add(t)
  }
}

