/**
 * SealmixClient: the SDK a chat client embeds. It keeps one connection to its entry gateway and
 * sends on Poisson schedules (rates from the network document): each send slot carries the next
 * queued fragment, or drop cover when there is none; loop cover comes back through the client's
 * own mailbox. Every real packet takes a fresh random path and carries a SURB for the ingress's
 * ack. The mailbox is pulled on every (re)connect, with a request that the gateway push it from
 * then on (a constant number of frames at a fixed interval); a client that sees no pushes pulls at
 * a fixed interval.
 *
 * Events: 'sent' (a fragment left in a send slot, with its attempt number), 'acked' (a fragment's
 * ack), 'delivered' (the ingress handed the message to the homeserver; with `latencyMs` from
 * send(), `stages`, where that time went (client/latency.ts), `attempts` and `epochs` begun
 * meanwhile), 'failed' (refused, or no ack after every attempt), 'received' (an envelope opened
 * and verified by open()), 'rejected' (an envelope that failed a verification step, with its code),
 * 'duplicate' (an envelope this client opened before, handed over again: not received twice),
 * 'up' and 'down' (the gateway connection), 'waiting' (a reason why nothing can be sent yet, see
 * `waitingFor`) and 'routable' (that reason is gone).
 *
 * A condition that a later network document can fix never throws: a client whose entry gateway,
 * a mix layer or a recipient's ingress is not (yet) in the document waits for a document that
 * lists them, says so through 'waiting', and sends once it can. A network that is starting up
 * converges instead of racing its clients.
 *
 * Nothing the client does on its own (its timers, its gateway link) throws into the embedding
 * app: every step checks the very document it builds packets with, and a step that fails anyway
 * is caught, counted (`stats.errors`) and retried (a fragment goes back to the queue). Only an
 * exception thrown by the app's own event listener leaves the client, after its step is done.
 *
 * With a `store` (client/store.ts), what a restart must not lose is taken back at construction and
 * written through as it changes: the outbox (each fragment's bytes, attempts, acked flag and due
 * time), the messages waiting for a route, the SURBs handed out for acks, the room keys and the
 * hashes of the envelopes opened lately. A fragment sent before a restart keeps its due time, and
 * its ack, when it comes, is matched through the kept SURB token ('acked', then 'delivered' with
 * the latency from the original send). Loop cover SURBs are not kept: a loop lost is cover lost.
 */
import { EventEmitter } from 'events'
import {
  type ClientRates,
  type CryptoSuite,
  clientRates,
  type DirectoryClient,
  encodeSubmit,
  exponential,
  FRAME,
  fragmentBytes,
  fragmentMessage,
  hopsFor,
  type IngressDescriptor,
  KIND_TO_DEVICE_V1,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  openMessage,
  parseAck,
  type Rng,
  ROOM_KEY_CONTENT_TYPE,
  randomInt,
  refreshIntervalMs,
  routeVia,
  type SealCode,
  type SenderCert,
  type ServerCert,
  Sphinx,
  sealIngressPayload,
  sealMessage,
  signDelivery,
  systemRng,
  type TrustStore,
  userIdDomain,
  type VerifiedMessage,
  verifyIngressBinding,
  type X25519KeyPair
} from '../mix/index.ts'
import { ClientError } from './errors.ts'
import { type LatencyStages, stagesOf } from './latency.ts'
import { GatewayLink, type SocketFactory } from './link.ts'
import { MailboxReads, pullMode } from './mailbox-reads.ts'
import { Outbox, type OutboxEvent, type OutFragment } from './outbox.ts'
import {
  acceptRoomKeyWith,
  openRoomEventWith,
  type RoomContext,
  type RoomEventInput,
  type RoomOpenResult,
  roomSubmission
} from './room-messages.ts'
import {
  type RegisteredRoomKey,
  type RoomKey,
  type RoomKeyAccept,
  RoomKeyring,
  roomKeyRecord,
  roomKeyShare
} from './rooms.ts'
import type { ClientSnapshot, ClientStore } from './store.ts'
import { type SurbEntry, SurbTable } from './surbs.ts'

const G = NETWORK_GEOMETRY

export interface Device {
  readonly userId: string
  readonly deviceId: string
  readonly x25519: X25519KeyPair
  readonly ed25519: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
}

/** What a sender knows about a recipient device: its keys and the capability its owner shared. */
export interface Contact {
  readonly userId: string
  readonly deviceId: string
  readonly x25519: Uint8Array
  readonly capability: { readonly keyId: number; readonly secretKey: Uint8Array }
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
  /**
   * Ask the gateway to push the mailbox (docs/PROTOCOL.md §19): an ack waits there about 50 ms
   * instead of half a pull interval. A gateway that does not push is pulled every pullIntervalMs.
   * @default true
   */
  readonly mailboxPush?: boolean
  /** Drop and loop cover (default on). Off only for tools and tests that must not send cover. */
  readonly cover?: boolean
  readonly rates?: Partial<ClientRates>
  readonly now?: () => number
  readonly rng?: Rng
  readonly ca?: Buffer
  /**
   * How the gateway link opens its WebSocket: `ws` in Node (the default), the browser's own
   * WebSocket through browserSocket (client/browser-socket.ts), or any adapter of that shape.
   */
  readonly socket?: SocketFactory
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
  /**
   * The localpart of the ingresses' bot users: a room's sealed messages are posted by
   * `@<localpart>:<the room's server>` only. @default sealmix
   */
  readonly ingressBotLocalpart?: string
  /**
   * How long a message whose recipient's server has no ingress in the document waits for one
   * before it fails with CLIENT_NO_ROUTE. @default 120000
   */
  readonly routeWaitMs?: number
  /**
   * Keep the client's state across restarts (ClientStore.open): taken back at construction and
   * written as it changes. One client per store; the app closes the store after the client
   * (`await client.closeAndFlush(); await store.close()`).
   */
  readonly store?: ClientStore
}

/** Messages waiting for an ingress of their recipient's server: at most this many. */
const MAX_UNROUTED = 256

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
  /** Envelopes opened before and handed over again (a homeserver forgets transaction ids after 30-60 min, so a re-sent message can arrive twice). */
  duplicates: number
  /** Steps of the client's own work that failed and were caught (a bug, or a document it could not use); each is retried. */
  errors: number
  /** Writes to the store that failed (each is tried again); see the 'store_failed' event. */
  storeFailures: number
}

/** Why a client cannot send yet: each is fixed by a later network document. A closed set. */
export type WaitReason = 'gateway_not_listed' | 'mix_layer_empty' | 'no_ingress' | 'ingress_unverified'

export interface SendOptions {
  readonly contentType?: number
  readonly contentHint?: number
}

/** How many opened envelopes a client remembers to recognise one handed over again. */
export const OPENED_REMEMBERED = 4096

export class SealmixClient extends EventEmitter {
  readonly stats: ClientStats = {
    realSent: 0,
    dropSent: 0,
    loopsSent: 0,
    loopsReturned: 0,
    acks: 0,
    delivered: 0,
    failed: 0,
    received: 0,
    rejected: 0,
    duplicates: 0,
    errors: 0,
    storeFailures: 0
  }
  readonly #o: ClientOptions
  readonly #c: CryptoSuite
  readonly #rng: Rng
  readonly #now: () => number
  readonly #sphinx: Sphinx
  readonly #rates: ClientRates
  readonly #outbox: Outbox
  readonly #surbs: SurbTable
  readonly #link: GatewayLink
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** When the mailbox was read (pulled or pushed), and whether pushes are coming. */
  readonly #reads: MailboxReads
  /** Hashes of the envelopes opened lately, oldest first. Bound: OPENED_REMEMBERED (about 0.5 MB). */
  readonly #opened = new Map<string, true>()
  /** The room send keys this device holds (bounded: MAX_ROOM_KEYS). */
  readonly rooms: RoomKeyring
  /** Sealed requests whose recipient's server has no ingress in the document yet; bounded by MAX_UNROUTED. */
  readonly #unrouted: Array<{
    readonly id: string
    readonly server: string
    readonly request: Uint8Array
    readonly sinceMs: number
    unverified: boolean
  }> = []
  #waiting: WaitReason | null = null
  /** Whether each ingress entry's binding verifies under the pinned roots; entries die with their document. */
  readonly #bindingChecked = new WeakMap<IngressDescriptor, boolean>()
  readonly #store: ClientStore | undefined
  /** Kept messages that no longer fit the outbox (a smaller maxQueuedFragments): failed at start(). Bound: what the store held. */
  #restoreFailed: OutboxEvent[] = []
  #closed = false

  constructor(o: ClientOptions) {
    super()
    if (o.mailboxId.length !== 32) throw new ClientError('CLIENT_CONFIG_INVALID', 'mailboxId must be 32 bytes')
    if (!/^[0-9a-f]{64}$/.test(o.gatewayId))
      throw new ClientError('CLIENT_CONFIG_INVALID', 'gatewayId must be a relay id (64 hex digits)')
    this.#o = o
    this.#c = o.crypto
    this.#rng = o.rng ?? systemRng(o.crypto)
    this.#now = o.now ?? Date.now
    this.#reads = new MailboxReads(this.#pullIntervalMs)
    this.#sphinx = new Sphinx(o.crypto)
    const store = o.store
    this.#store = store
    // Taken first: a store already serving a client throws here, before anything is built.
    const kept = store?.takeSnapshot()
    this.rooms = new RoomKeyring(
      o.crypto,
      store && {
        set: k => store.putRoomKey(roomKeyRecord(k)),
        removed: roomId => store.deleteRoomKey(roomId)
      }
    )
    this.#rates = { ...clientRates(o.network), ...o.rates }
    this.#outbox = new Outbox(
      {
        ackTimeoutMs: o.ackTimeoutMs ?? 15_000,
        maxAttempts: o.maxAttempts ?? 5,
        maxFragments: o.maxQueuedFragments ?? 4096
      },
      store && {
        added: m => store.putMessage(m),
        changed: f => store.putFragment(f.message.id, f.index, f),
        removed: m => store.deleteMessage(m.id, m.fragments.length)
      }
    )
    // Only ack SURBs are kept: a loop's SURB is cover, and a loop lost after a restart costs nothing.
    const isAck = (e: SurbEntry): boolean => e.use.kind === 'ack'
    this.#surbs = new SurbTable(
      16_384,
      3600_000,
      store && {
        added: (id, e) => {
          if (isAck(e)) store.putSurb({ id, ...e })
        },
        removed: (id, e) => {
          if (isAck(e)) store.deleteSurb(id)
        }
      }
    )
    if (store !== undefined && kept !== undefined) {
      store.onWriteError = () => {
        this.stats.storeFailures++
        this.#emit('store_failed', { code: 'CLIENT_STORE_FAILED' })
      }
      this.#restore(store, kept)
    }
    this.#link = new GatewayLink({
      geometry: G,
      address: () => this.#gateway()?.address ?? '',
      ca: o.ca,
      socket: o.socket,
      minRetryMs: o.minRetryMs,
      maxRetryMs: o.maxRetryMs,
      onUp: () => {
        // A new connection has no pushes yet: the PULL asks for them.
        this.#reads.connected()
        this.#guard(() => this.pull())
        this.#emit('up')
      },
      onDown: () => this.#emit('down'),
      onFrame: (kind, body) => {
        if (kind === FRAME.MAILBOX) this.#guard(() => this.#onMailbox(body))
      }
    })
  }

  /** Take back what a previous run kept; what no longer fits a bound is forgotten in the store too. */
  #restore(store: ClientStore, kept: ClientSnapshot): void {
    const now = this.#now()
    this.rooms.restore(kept.rooms)
    for (const h of kept.opened) this.#remember(h, false)
    for (const u of kept.unrouted) {
      if (this.#unrouted.length < MAX_UNROUTED) this.#unrouted.push({ ...u, unverified: false })
      else {
        store.deleteUnrouted(u.id)
        this.#restoreFailed.push({ type: 'failed', messageId: u.id, code: 'CLIENT_QUEUE_FULL' })
      }
    }
    for (const r of this.#outbox.restore(kept.messages)) {
      store.deleteMessage(r.id, r.fragments.length)
      this.#restoreFailed.push({ type: 'failed', messageId: r.id, code: 'CLIENT_QUEUE_FULL' })
    }
    this.#surbs.restore(kept.surbs, now)
  }

  /** The document packets are built with now. */
  get network(): NetworkDocument {
    return this.#o.directory?.current() ?? this.#o.network
  }

  get connected(): boolean {
    return this.#link.up
  }
  /** Messages not yet delivered or failed, those waiting for a route included. */
  get pending(): number {
    return this.#outbox.messages + this.#unrouted.length
  }
  /** Why the client cannot send now, or null when it can (or only waits for its connection). */
  get waitingFor(): WaitReason | null {
    return this.#waiting
  }

  start(): void {
    // Kept messages that the outbox could not take back fail once, when the app listens.
    this.#handle(this.#restoreFailed.splice(0))
    this.#guard(() => this.#checkRoute())
    this.#poisson(this.#rates.clientRatePerSec, () => this.#sendSlot())
    if (this.#o.cover !== false) this.#poisson(this.#rates.clientLoopRatePerSec, () => this.#sendLoop())
    this.#every(this.#pullIntervalMs, () => {
      if (this.#reads.shouldPull(this.#now())) this.pull()
    })
    const dir = this.#o.directory
    if (dir !== undefined) {
      let busy = false
      this.#every(refreshIntervalMs(dir.schedule), () => {
        if (busy) return
        busy = true
        void Promise.resolve()
          .then(async () => await dir.refresh())
          .catch(() => null)
          .finally(() => {
            busy = false
          })
      })
    }
    this.#every(250, () => {
      this.#guard(() => this.#checkRoute())
      this.#guard(() => this.#handle(this.#outbox.tick(this.#now())))
      this.#guard(() => this.#surbs.expire(this.#now()))
    })
  }

  #gateway(doc: NetworkDocument = this.network): { readonly address: string } | undefined {
    return doc.relays.find(r => r.id === this.#o.gatewayId && r.role === 'gateway')
  }

  /** Why no path can be built with `doc` (its entry gateway or a whole mix layer is missing), or null. */
  #pathBlock(doc: NetworkDocument): 'gateway_not_listed' | 'mix_layer_empty' | null {
    if (this.#gateway(doc) === undefined) return 'gateway_not_listed'
    if ([1, 2, 3].some(layer => !doc.relays.some(r => r.role === 'mix' && r.layer === layer))) return 'mix_layer_empty'
    return null
  }

  /**
   * Compare the current document with what sending needs; dial the gateway once it is listed,
   * hand messages that waited for an ingress to the outbox, and fail those that waited too long.
   */
  #checkRoute(): void {
    let reason: WaitReason | null = this.#pathBlock(this.network)
    if (reason === null) this.#link.start()
    const now = this.#now()
    for (let i = 0; i < this.#unrouted.length; ) {
      const m = this.#unrouted[i]!
      const found = this.#ingressFor(m.server)
      m.unverified = found.unverified
      if (found.ingress !== undefined) {
        this.#unrouted.splice(i, 1)
        this.#store?.deleteUnrouted(m.id)
        this.#queue(m.id, found.ingress.id, m.request, () =>
          this.#handle([{ type: 'failed', messageId: m.id, code: 'CLIENT_QUEUE_FULL' }])
        )
      } else if (now - m.sinceMs > (this.#o.routeWaitMs ?? 120_000)) {
        this.#unrouted.splice(i, 1)
        this.#store?.deleteUnrouted(m.id)
        this.#handle([
          { type: 'failed', messageId: m.id, code: m.unverified ? 'CLIENT_INGRESS_UNVERIFIED' : 'CLIENT_NO_ROUTE' }
        ])
      } else i++
    }
    if (reason === null && this.#unrouted.length > 0)
      reason = this.#unrouted.some(m => m.unverified) ? 'ingress_unverified' : 'no_ingress'
    if (reason !== this.#waiting) {
      this.#waiting = reason
      if (reason === null) this.#emit('routable')
      else this.#emit('waiting', { reason })
    }
  }

  /**
   * Stop for good. With a store, the last changes are written in the background: await
   * closeAndFlush() (or store.flush()) before the process exits or the store is closed.
   */
  close(): void {
    this.#closed = true
    this.pause()
  }

  /** close(), and resolve once every change is in the store (rejects with CLIENT_STORE_FAILED if it cannot be written). */
  async closeAndFlush(): Promise<void> {
    this.close()
    await this.#store?.flush()
  }

  /**
   * Go offline (an app sent to the background): disconnect and stop sending; state is kept, and
   * with a store its last changes are written now (a failure is counted and tried again).
   */
  pause(): void {
    this.#store?.flush().catch(() => undefined)
    for (const t of this.#timers) {
      clearTimeout(t)
      clearInterval(t)
    }
    this.#timers.clear()
    this.#link.close()
  }

  /** Come back online after pause(): reconnect, pull the mailbox, send what waits. */
  resume(): void {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client is closed')
    if (this.#timers.size === 0) this.start()
  }

  /**
   * Seal `content` to a contact's device and queue it for that device's ingress. Returns the
   * message id (hex) that the 'delivered' or 'failed' event will name.
   */
  send(to: Contact, content: Uint8Array | string, opts: SendOptions = {}): string {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client is closed')
    const { senderCert, serverCert } = this.#o
    if (senderCert === undefined)
      throw new ClientError('CLIENT_CONFIG_INVALID', 'sending needs a SenderCert (fetch one from the ingress)')
    const server = userIdDomain(to.userId)
    if (server === null) throw new ClientError('CLIENT_CONFIG_INVALID', "the contact's user id names no server")
    const now = this.#now()
    const envelope = sealMessage(
      this.#c,
      {
        contentType: opts.contentType ?? 8,
        contentHint: opts.contentHint,
        content: typeof content === 'string' ? Buffer.from(content) : content,
        senderCert,
        serverCert
      },
      this.#o.device.x25519,
      to.x25519,
      this.#rng
    )
    const dest = `${to.userId}/${to.deviceId}`
    const request = encodeSubmit({
      kind: KIND_TO_DEVICE_V1,
      dest,
      envelope,
      auth: signDelivery(this.#c, to.capability.secretKey, to.capability.keyId, dest, now, envelope)
    })
    return this.#submitFor(server, request)
  }

  /**
   * Seal `content` once for every member device of a room (the x25519 keys of every joined
   * member's devices; this device is added when missing, so that the batch does not show a gap
   * where the sender is) and queue it for the ingress that holds the room's send key. Returns the
   * message id. The room's key must be in `rooms` (made with newRoomKey or accepted from a share).
   */
  sendToRoom(
    roomId: string,
    content: Uint8Array | string,
    devices: readonly Uint8Array[],
    opts: SendOptions = {}
  ): string {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the client is closed')
    const { server, request } = roomSubmission(this.#roomContext(), roomId, content, devices, opts)
    return this.#submitFor(server, request)
  }

  /** Share a room key with members' devices, each in a sealed message of its own (content type 9). */
  shareRoomKey(key: RoomKey, to: readonly Contact[]): string[] {
    const share = roomKeyShare(key)
    return to.map(c => this.send(c, share, { contentType: ROOM_KEY_CONTENT_TYPE }))
  }

  /**
   * A received message of content type 9 (a room key share): accepted when its certified sender
   * is joined to the room (`joined`, from the room's member list) and it is the key the room's
   * ingress holds now (`registered`: fetchRoomKey with this user's token).
   */
  async acceptRoomKey(
    m: VerifiedMessage,
    joined: (roomId: string, userId: string) => boolean,
    registered: (roomId: string) => Promise<RegisteredRoomKey>
  ): Promise<RoomKeyAccept> {
    return await acceptRoomKeyWith(this.rooms, m, joined, registered)
  }

  /**
   * Open a sealed room event for this device: the event must come from an ingress's bot, carry a
   * batch with a wrap for this device that passes every step of recipient verification and was
   * sealed for this room, and its certified sender must be joined to the room at that event
   * (`joined`, from the member list the chat client's Matrix library has for that event). A
   * message that fails any of it is never shown: 'rejected' with its code.
   */
  openRoomEvent(ev: RoomEventInput, joined: (userId: string) => boolean): RoomOpenResult {
    const r = openRoomEventWith(this.#roomContext(), ev, joined, {
      botLocalpart: this.#o.ingressBotLocalpart ?? 'sealmix',
      seen: h => this.#opened.has(h),
      remember: h => this.#remember(h)
    })
    if (r.kind === 'rejected') {
      this.stats.rejected++
      this.emit('rejected', { code: r.code, roomId: ev.roomId })
    } else if (r.kind === 'duplicate') {
      this.stats.duplicates++
      this.emit('duplicate', {})
    } else if (r.kind === 'received') {
      this.stats.received++
      this.emit('room_message', r)
    }
    return r
  }

  #roomContext(): RoomContext {
    const o = this.#o
    return {
      crypto: this.#c,
      rng: this.#rng,
      nowMs: this.#now(),
      device: o.device,
      trust: o.trust,
      rooms: this.rooms,
      senderCert: o.senderCert,
      serverCert: o.serverCert
    }
  }

  /** Queue a request for an ingress of `server`, or hold it until a document lists one. */
  #submitFor(server: string, request: Uint8Array): string {
    const { ingress, unverified } = this.#ingressFor(server)
    const now = this.#now()
    if (ingress !== undefined) return this.submit(ingress.id, request)
    // No ingress that its homeserver vouches for serves that server in this document: the message waits for one.
    if (this.#unrouted.length >= MAX_UNROUTED)
      throw new ClientError('CLIENT_QUEUE_FULL', 'too many messages are waiting for an ingress of their server')
    const id = this.#rng.bytes(16).toString('hex')
    this.#unrouted.push({ id, server, request, sinceMs: now, unverified })
    this.#store?.putUnrouted({ id, server, request: Buffer.from(request), sinceMs: now })
    this.#checkRoute()
    return id
  }

  /**
   * An ingress of `server` whose binding verifies against the roots this client pins for that
   * server, drawn at random among such ingresses (not by id order, which an ingress can grind);
   * `unverified` when the document lists ingresses for the server but none verifies.
   */
  #ingressFor(server: string): { ingress?: IngressDescriptor; unverified: boolean } {
    const all = this.network.ingresses.filter(i => i.serverName === server)
    const ok = all.filter(i => this.#verified(i))
    return {
      ingress: ok.length === 0 ? undefined : ok[randomInt(this.#rng, ok.length)],
      unverified: all.length > 0 && ok.length === 0
    }
  }

  /**
   * The binding's signature is checked once per document entry (a send and each of its fragments
   * ask again); its expiry at every ask.
   */
  #verified(i: IngressDescriptor): boolean {
    let signed = this.#bindingChecked.get(i)
    if (signed === undefined) {
      signed = verifyIngressBinding(this.#c, i, this.#o.trust.roots(i.serverName), 0).ok
      this.#bindingChecked.set(i, signed)
    }
    return signed && i.binding.notAfterMs >= this.#now()
  }

  /** Queue an encoded SubmitRequest (for example a v2 batch) for an ingress; returns its message id. */
  submit(ingressId: string, request: Uint8Array): string {
    if (!/^[0-9a-f]{64}$/.test(ingressId))
      throw new ClientError('CLIENT_CONFIG_INVALID', 'an ingress id is 64 hex digits')
    const id = this.#rng.bytes(16).toString('hex')
    this.#queue(id, ingressId, request, () => {
      throw new ClientError('CLIENT_QUEUE_FULL', 'too many fragments are waiting; try again after some are delivered')
    })
    return id
  }

  /** Fragment a request into the outbox. An ingress missing from the document holds its fragments until one lists it again. */
  #queue(id: string, ingressId: string, request: Uint8Array, full: () => void): void {
    const fragments = fragmentMessage(request, Buffer.from(id, 'hex'), fragmentBytes(G, true))
    if (!this.#outbox.add(id, ingressId, fragments, this.#now())) full()
  }

  /** Recipient side: open an envelope that arrived for this device and run every verification step. */
  open(
    envelope: Uint8Array
  ): { ok: true; value: VerifiedMessage } | { ok: false; code: SealCode | 'CLIENT_DUPLICATE' } {
    const d = this.#o.device
    // A sender re-sends the same envelope when an ack is lost; the ingress and the homeserver
    // de-duplicate, but a homeserver forgets after 30-60 min. Opening it again would show the
    // message twice.
    const h = this.#c.sha512_256(envelope).toString('hex')
    if (this.#opened.has(h)) {
      this.stats.duplicates++
      this.emit('duplicate', {})
      return { ok: false, code: 'CLIENT_DUPLICATE' }
    }
    const r = openMessage(this.#c, envelope, d.x25519, this.#o.trust, {
      nowMs: this.#now(),
      self: { userId: d.userId, deviceId: d.deviceId }
    })
    if (r.ok) {
      // Remembered only once verified, so an envelope that fails cannot shadow a good one.
      this.#remember(h)
      this.stats.received++
      // Called by the app: its own listeners' exceptions reach it here, as from any emitter.
      this.emit('received', r.value)
      return r
    }
    this.stats.rejected++
    this.emit('rejected', { code: r.code })
    return { ok: false, code: r.code }
  }

  /** `keep`: write it to the store (not when it is being taken back from there). */
  #remember(envelopeHash: string, keep = true): void {
    this.#opened.delete(envelopeHash)
    this.#opened.set(envelopeHash, true)
    if (keep) this.#store?.putOpened(envelopeHash)
    if (this.#opened.size > OPENED_REMEMBERED) {
      const oldest = this.#opened.keys().next().value!
      this.#opened.delete(oldest)
      this.#store?.deleteOpened(oldest)
    }
  }

  get #pullIntervalMs(): number {
    return this.#o.pullIntervalMs ?? 1000
  }

  /**
   * Ask the gateway for what waits in the mailbox (answered with a constant number of frames). The
   * byte after the mailbox id asks it to push the mailbox from then on (1), or not (0: what a
   * client before pushes sent, its frame's zero padding).
   */
  pull(): void {
    if (!this.#link.send(FRAME.PULL, this.#o.mailboxId, pullMode(this.#o.mailboxPush !== false))) return
    this.#reads.pulled(this.#now())
  }

  /**
   * The document this slot builds with, when paths can be built with it and the link is up; else
   * null. The document can change between two route checks (a new epoch begins, a refresh lands):
   * each slot checks the one it uses, and a change is reported ('waiting') at once.
   */
  #slotDocument(): NetworkDocument | null {
    if (!this.#link.up) return null
    const doc = this.network
    if (this.#pathBlock(doc) === null) return doc
    this.#checkRoute()
    return null
  }

  #sendSlot(): void {
    const doc = this.#slotDocument()
    if (doc === null) return
    const f = this.#outbox.next()
    if (f !== undefined) {
      let sent: boolean
      try {
        sent = this.#sendFragment(f, doc)
      } catch (e) {
        // A document this client could not build a path with (a bug, or an entry it cannot use):
        // the fragment is not lost, it waits like an unroutable one.
        this.#trouble(e)
        this.#unroutable(f, 'CLIENT_NO_ROUTE')
        sent = false
      }
      if (sent) return
    }
    if (this.#o.cover !== false) this.#sendDrop(doc)
  }

  /** A fragment that cannot be routed now waits at the back of the queue, until routeWaitMs after its send. */
  #unroutable(f: OutFragment, code: 'CLIENT_NO_ROUTE' | 'CLIENT_INGRESS_UNVERIFIED'): void {
    if (this.#now() - f.message.createdMs > (this.#o.routeWaitMs ?? 120_000))
      this.#handle(this.#outbox.abandon(f, code))
    else this.#outbox.defer(f)
  }

  /** False when the fragment's ingress (or every exit gateway of it) is not in `doc`: it goes back to the queue. */
  #sendFragment(f: OutFragment, doc: NetworkDocument): boolean {
    const ingress = doc.ingresses.find(i => i.id === f.message.ingressId)
    // Nothing is sealed to an ingress that its homeserver does not vouch for.
    if (ingress === undefined || !this.#verified(ingress)) {
      this.#unroutable(f, ingress === undefined ? 'CLIENT_NO_ROUTE' : 'CLIENT_INGRESS_UNVERIFIED')
      return false
    }
    // Only exit gateways this document lists as relays can end a path.
    const exits = ingress.gateways.filter(g => doc.relays.some(r => r.id === g && r.role === 'gateway'))
    if (exits.length === 0) {
      this.#unroutable(f, 'CLIENT_NO_ROUTE')
      return false
    }
    const exit = exits[randomInt(this.#rng, exits.length)]!
    const surbId = this.#rng.bytes(16)
    const back = hopsFor(routeVia(doc, this.#rng, exit, this.#o.gatewayId), this.#rng, this.#rates.hopDelayMs, [
      { type: 'recipient', id: this.#o.mailboxId },
      { type: 'surb_reply', id: surbId }
    ])
    const { surb, token } = this.#sphinx.createSurb(back, this.#rng)
    const payload = sealIngressPayload(this.#c, G, f.bytes, surb, Buffer.from(ingress.boxKey, 'hex'))
    const out = hopsFor(routeVia(doc, this.#rng, this.#o.gatewayId, exit), this.#rng, this.#rates.hopDelayMs, [
      { type: 'recipient', id: Buffer.from(ingress.id, 'hex') }
    ])
    if (!this.#link.send(FRAME.PACKET, this.#sphinx.createPacket(out, payload, this.#rng))) {
      this.#outbox.unshift(f)
      return true
    }
    this.#surbs.add(surbId, token, { kind: 'ack', messageId: f.message.id, index: f.index }, this.#now())
    this.#outbox.markSent(f, this.#now())
    this.stats.realSent++
    this.#emit('sent', { messageId: f.message.id, index: f.index, attempt: f.attempts })
    return true
  }

  /** Drop cover: a full path to a random gateway with an all-zero recipient, discarded there. */
  #sendDrop(doc: NetworkDocument): void {
    const gateways = doc.relays.filter(r => r.role === 'gateway')
    const last = gateways[randomInt(this.#rng, gateways.length)]!.id
    const hops = hopsFor(routeVia(doc, this.#rng, this.#o.gatewayId, last), this.#rng, this.#rates.hopDelayMs, [
      { type: 'recipient', id: Buffer.alloc(32) }
    ])
    if (this.#link.send(FRAME.PACKET, this.#sphinx.createPacket(hops, this.#rng.bytes(G.userPayloadBytes), this.#rng)))
      this.stats.dropSent++
  }

  /** Loop cover: a SURB to our own mailbox, used by ourselves; it looks like any other packet. */
  #sendLoop(): void {
    const doc = this.#slotDocument()
    if (doc === null) return
    const surbId = this.#rng.bytes(16)
    const hops = hopsFor(
      routeVia(doc, this.#rng, this.#o.gatewayId, this.#o.gatewayId),
      this.#rng,
      this.#rates.hopDelayMs,
      [
        { type: 'recipient', id: this.#o.mailboxId },
        { type: 'surb_reply', id: surbId }
      ]
    )
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
  #onMailbox(body: Buffer): void {
    const arrived = this.#now()
    this.#link.send(FRAME.ACK, body.subarray(0, 8))
    this.#reads.frame(arrived)
    const e = this.#surbs.take(body.subarray(8, 24))
    if (e === undefined) return
    const reply = this.#sphinx.decryptSurbPayload(body.subarray(24, 24 + G.bodyBytes), e.token)
    if (reply === null) return
    if (e.use.kind === 'loop') {
      this.stats.loopsReturned++
      return
    }
    const ack = parseAck(reply)
    if (!ack.ok || ack.value.messageId.toString('hex') !== e.use.messageId || ack.value.index !== e.use.index) return
    this.stats.acks++
    const f = this.#outbox.fragment(e.use.messageId, e.use.index)
    const now = this.#now()
    const events = this.#outbox.onAck(e.use.messageId, e.use.index, ack.value.status, now)
    this.#handle(
      events.map(ev =>
        ev.type === 'delivered' && f !== undefined
          ? { ...ev, ...this.#breakdown(f, e.createdMs, arrived, now), attempts: f.attempts }
          : ev
      )
    )
  }

  /**
   * Where a delivered message's time went (client/latency.ts), from this client's own clock:
   * `slotMs` is when the acked attempt's SURB was made, in its send slot. Fragments taken back
   * from a store have no first slot: no stages. `epochs`: epochs begun since the message was queued.
   */
  #breakdown(f: OutFragment, slotMs: number, arrived: number, now: number): { stages?: LatencyStages; epochs: number } {
    const created = f.message.createdMs
    const doc = this.network
    const epochMs = doc.epochMs ?? 0
    const epochAt = (t: number): number => (epochMs > 0 ? Math.floor((t - doc.validFromMs) / epochMs) : 0)
    const epochs = epochAt(now) - epochAt(created)
    if (f.firstSentMs === undefined) return { epochs }
    const reads = this.#reads.log.around(arrived)
    return {
      stages: stagesOf({ createdMs: created, firstSlotMs: f.firstSentMs, slotMs, ...reads, ackMs: now }),
      epochs
    }
  }

  #handle(events: OutboxEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'delivered') this.stats.delivered++
      if (ev.type === 'failed') this.stats.failed++
      this.#emit(ev.type, ev)
    }
  }

  /**
   * Emit to the app's listeners. An exception a listener throws is the app's own: it is thrown
   * again outside the client's step (as an uncaught exception of the app), so that the step it
   * interrupted still completes and the client's state stays whole.
   */
  #emit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args)
    } catch (e) {
      queueMicrotask(() => {
        throw e
      })
    }
  }

  /** Run one step of the client's own work: whatever it throws is caught and counted, never passed to the app. */
  #guard(f: () => void): void {
    try {
      f()
    } catch (e) {
      this.#trouble(e)
    }
  }

  #trouble(_e: unknown): void {
    this.stats.errors++
  }

  #poisson(ratePerSec: number, f: () => void): void {
    if (!(ratePerSec > 0)) return
    const next = (): void => {
      const t = setTimeout(
        () => {
          this.#timers.delete(t)
          if (this.#closed) return
          this.#guard(f)
          this.#guard(next)
        },
        exponential(this.#rng, 1000 / ratePerSec)
      )
      this.#timers.add(t)
    }
    next()
  }

  #every(ms: number, f: () => void): void {
    const t = setInterval(() => this.#guard(f), ms)
    this.#timers.add(t)
  }
}
