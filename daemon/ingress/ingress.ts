/**
 * The sealed ingress beside a homeserver (`sealmix ingress`): it connects out to its exit
 * gateways, takes DELIVER frames, opens each sealed payload, reassembles fragments, checks
 * delivery authorization (a device's capability or a room's send key, hour window, envelope-hash
 * replay cache), limits each destination's rate, hands the envelope to its sink (to a device, or
 * into a room), and answers every fragment through the
 * sender's SURB. A DELIVER is acknowledged to the gateway only after it has been handled (and, for
 * a delivered message, after its replay entry is on disk), so a crash loses nothing acknowledged.
 * A reload (SIGHUP, reconfigure) applies the per-destination rate, the metrics token, the room
 * key rotation grace, the authorities to follow and the log level; the rest needs a restart.
 */
import { join } from 'node:path'
import {
  ACK_STATUS,
  type AckStatus,
  type CryptoSuite,
  checkDelivery,
  encodeAck,
  encodeFrame,
  FRAME,
  NETWORK_GEOMETRY as G,
  loadCrypto,
  type NetworkDocument,
  openIngressPayload,
  parseFragment,
  parseSubmit,
  RateLimiter,
  Reassembler,
  Sphinx
} from '../../mix/index.ts'
import {
  createLogger,
  ensureDataFormat,
  type HttpListener,
  type Logger,
  networkFileProblem,
  type OpsServer,
  OutLink,
  readNetworkFile,
  startOpsServer
} from '../io/index.ts'
import type { IngressConfig } from './config.ts'
import { destinationOf } from './destination.ts'
import { IngressDirectory } from './directory.ts'
import { IngressError } from './errors.ts'
import { startApiServer } from './http.ts'
import { IssuerApi } from './issuer.ts'
import { type IngressKeys, loadIngressKeys } from './keys.ts'
import { IngressMetrics } from './metrics.ts'

import { matrixSink, type Sink } from './sink.ts'
import { IngressStore } from './store.ts'

export interface IngressOptions {
  readonly config: IngressConfig
  /** Default: the Matrix application-service sink from config.homeserver. */
  readonly sink?: Sink
  readonly logger?: Logger
  readonly now?: () => number
  readonly minRetryMs?: number
  readonly maxRetryMs?: number
}

const MAX_FINAL = 100_000
/**
 * Each exit-gateway link: its handshake deadline; its send-buffer cap (a slow gateway must not
 * grow the ingress without bound: beyond 4 MiB an ACK or answer is not sent, as when the link is
 * down); a wss:// gateway's certificate checked against the system store. No pings from this
 * side: the gateway pings its ingresses.
 */
const GATEWAY_LINK = { handshakeTimeoutMs: 5000, maxBufferedBytes: 4 << 20, checkCertificate: true } as const

export class Ingress {
  readonly metrics = new IngressMetrics()
  readonly #o: IngressOptions
  /** The config in force: the file's at start, with what reloads applied since. */
  #cfg: IngressConfig
  readonly #now: () => number
  readonly #log: Logger
  readonly #links = new Map<string, OutLink>()
  #listed = false
  readonly #linkAddress = new Map<string, string>()
  #follower: IngressDirectory | null = null
  /** Final answers for completed message ids, so that a re-sent fragment gets the same answer. */
  readonly #final = new Map<string, AckStatus>()
  #c!: CryptoSuite
  #sphinx!: Sphinx
  #keys!: IngressKeys
  #doc!: NetworkDocument
  #store!: IngressStore
  #reasm!: Reassembler
  #limiter!: RateLimiter
  #sink!: Sink
  #issuer: IssuerApi | null = null
  #ops: OpsServer | null = null
  #servers: HttpListener[] = []
  #expiry: NodeJS.Timeout | null = null
  apiPort = 0
  metricsPort = 0

  constructor(o: IngressOptions) {
    this.#o = o
    this.#cfg = o.config
    this.#now = o.now ?? Date.now
    this.#log = o.logger ?? createLogger(o.config.log.level).child({ role: 'ingress' })
  }

  get id(): string {
    return this.#keys.id
  }
  get linksUp(): number {
    return [...this.#links.values()].filter(l => l.ready).length
  }
  /** The config in force: the file's at start, with what reloads applied since. */
  get config(): IngressConfig {
    return this.#cfg
  }

  /**
   * A reload (SIGHUP): from `next`, a config already validated, apply what can change while the
   * ingress runs and return the config now in force; every other key keeps its running value (the
   * caller names them). Gateway links are never closed for it.
   */
  reconfigure(next: IngressConfig): IngressConfig {
    const cur = this.#cfg
    const rate = (l: IngressConfig['limits']): string => `${l.perDestinationPerMinute}/${l.maxDestinations}`
    this.#cfg = {
      ...cur,
      metrics: { ...cur.metrics, token: next.metrics.token },
      // The reassembly bounds and the replay cache are sized once, in structures that hold messages.
      limits: {
        ...cur.limits,
        perDestinationPerMinute: next.limits.perDestinationPerMinute,
        maxDestinations: next.limits.maxDestinations
      },
      rooms: { ...cur.rooms, rotationGraceMs: next.rooms.rotationGraceMs },
      directory:
        cur.directory === undefined || next.directory === undefined
          ? cur.directory
          : { ...cur.directory, authorities: next.directory.authorities },
      log: next.log
    }
    this.#ops?.setToken(this.#cfg.metrics.token)
    // A new limiter starts every destination with a full allowance: one burst more, at most, per reload.
    if (this.#limiter !== undefined && rate(cur.limits) !== rate(this.#cfg.limits))
      this.#limiter = new RateLimiter(this.#cfg.limits.perDestinationPerMinute, this.#cfg.limits.maxDestinations)
    if (this.#issuer !== null) this.#issuer.roomRotationGraceMs = this.#cfg.rooms.rotationGraceMs
    const authorities = this.#cfg.directory?.authorities
    if (authorities !== undefined && JSON.stringify(authorities) !== JSON.stringify(cur.directory?.authorities))
      this.#follower?.setAuthorities(authorities)
    return this.#cfg
  }

  async start(): Promise<void> {
    // What a reload can change is read from this.#cfg where each part is made: a SIGHUP may come
    // during any await below.
    const cfg = this.#cfg
    this.#c = await loadCrypto()
    this.#sphinx = new Sphinx(this.#c)
    // Data in another format is refused before anything reads it; a new directory records this sealmix's (daemon/io/data-format.ts).
    ensureDataFormat(cfg.dataDir, { program: 'ingress' })
    this.#keys = loadIngressKeys(this.#c, cfg.dataDir, cfg.serverName)
    if (cfg.network !== undefined) {
      this.#doc = loadNetworkFile(this.#c, cfg.network.file, cfg.network.signers, this.#now())
      if (!this.#doc.ingresses.some(i => i.id === this.#keys.id))
        throw new IngressError(
          'INGRESS_NETWORK_INVALID',
          'this ingress is not in the network document (add it with `sealmix network --ingress`)'
        )
    }
    this.#store = new IngressStore(
      join(cfg.dataDir, 'db'),
      this.#c,
      this.#keys.storeKey,
      cfg.limits.maxReplayEntries,
      cfg.rooms.maxRooms,
      cfg.rooms.maxRoomsPerUser
    )
    await this.#store.open(this.#now())
    this.#reasm = new Reassembler({
      maxMessages: cfg.limits.maxPartialMessages,
      maxBytes: cfg.limits.maxPartialBytes,
      timeoutMs: cfg.limits.reassemblyTimeoutMs
    })
    this.#limiter = new RateLimiter(this.#cfg.limits.perDestinationPerMinute, this.#cfg.limits.maxDestinations)
    const botUserId = `@${cfg.homeserver.botLocalpart}:${cfg.serverName}`
    this.#sink =
      this.#o.sink ??
      matrixSink({
        url: cfg.homeserver.url,
        asToken: cfg.homeserver.asToken,
        botUserId,
        timeoutMs: cfg.homeserver.timeoutMs
      })
    const issuer = new IssuerApi({
      crypto: this.#c,
      keys: this.#keys,
      store: this.#store,
      metrics: this.metrics,
      homeserver: cfg.homeserver,
      botUserId,
      roomRotationGraceMs: this.#cfg.rooms.rotationGraceMs,
      serverName: cfg.serverName,
      now: this.#now
    })
    this.#issuer = issuer
    // An address that cannot be bound is one line naming it and its key (INGRESS_LISTEN_FAILED).
    const bindError = (problem: string, cause: unknown): Error =>
      new IngressError('INGRESS_LISTEN_FAILED', problem, { cause })
    try {
      const api = await startApiServer(cfg.api.host, cfg.api.port, issuer, bindError)
      this.#servers.push(api)
      this.apiPort = api.port
      if (cfg.metrics.enabled) {
        const ops = await startOpsServer({
          host: cfg.metrics.host,
          port: cfg.metrics.port,
          token: this.#cfg.metrics.token,
          metrics: this.metrics,
          ready: () =>
            !this.#listed
              ? 'not listed in the current network document'
              : this.linksUp > 0
                ? null
                : 'no exit-gateway link up',
          bindError
        })
        this.#servers.push(ops)
        this.#ops = ops
        ops.setToken(this.#cfg.metrics.token)
        this.metricsPort = ops.port
      }
    } catch (e) {
      await this.stop()
      throw e instanceof IngressError
        ? e
        : new IngressError(
            'INGRESS_LISTEN_FAILED',
            `cannot listen: ${(e as NodeJS.ErrnoException).code ?? 'unknown error'}`,
            {
              cause: e
            }
          )
    }
    if (cfg.directory !== undefined) {
      const d = cfg.directory
      this.#follower = new IngressDirectory({
        crypto: this.#c,
        keys: this.#keys,
        serverName: cfg.serverName,
        authorities: this.#cfg.directory?.authorities ?? d.authorities,
        gateways: d.gateways,
        maxSkewMs: d.maxSkewMs,
        now: this.#now,
        onDocument: doc => this.#useDocument(doc),
        onWaiting: () =>
          this.#log.warn(
            { event: 'directory_wait' },
            'waiting for a network document signed by a majority of the directory authorities'
          ),
        onRefused: reason =>
          this.#log.warn({ event: 'descriptor_refused', reason }, "an authority refused this ingress's descriptor")
      })
      await this.#follower.start()
    } else {
      this.#useDocument(this.#doc)
    }
    this.#expiry = setInterval(() => {
      void this.#store.expire(this.#now()).catch(() => {})
      this.#reasm.expire(this.#now())
      this.#gauges()
    }, 10_000)
    this.#log.info({ event: 'started', gateways: this.#links.size }, 'ingress started')
  }

  /** Links to exactly the gateways that `doc` lists this ingress with. */
  #useDocument(doc: NetworkDocument): void {
    this.#doc = doc
    const me = doc.ingresses.find(i => i.id === this.#keys.id)
    // Not listed yet (a network that is starting, a descriptor that missed a deadline): the next document can fix it.
    this.#listed = me !== undefined && me.gateways.length > 0
    if (!this.#listed)
      this.#log.warn(
        { event: 'not_listed', epoch: doc.epoch },
        'this ingress is not in the current network document with a gateway; waiting for the next one'
      )
    const want = new Map(
      (me?.gateways ?? []).flatMap(id =>
        doc.relays.filter(r => r.id === id && r.role === 'gateway').map(r => [id, r] as const)
      )
    )
    for (const [id, l] of this.#links)
      if (want.get(id)?.address !== this.#linkAddress.get(id)) {
        void l.close()
        this.#links.delete(id)
        this.#linkAddress.delete(id)
      }
    for (const gw of want.values()) {
      if (this.#links.has(gw.id)) continue
      const link = new OutLink({
        crypto: this.#c,
        geometry: G,
        address: gw.address,
        role: 'ingress',
        ...GATEWAY_LINK,
        identity: { id: Buffer.from(this.#keys.id, 'hex'), secretKey: this.#keys.identity.secretKey },
        peerId: gw.id,
        peerKey: Buffer.from(gw.identityKey, 'hex'),
        minRetryMs: this.#o.minRetryMs ?? 1000,
        maxRetryMs: this.#o.maxRetryMs ?? 30_000,
        onUp: () => {
          this.#linkGauge()
          this.#log.info({ event: 'gateway_up' }, 'exit gateway link up')
        },
        onDown: () => {
          this.#linkGauge()
          this.#log.warn({ event: 'gateway_down' }, 'exit gateway link down')
        },
        onFrame: (kind, body) => {
          if (kind === FRAME.DELIVER) void this.#onDeliver(link, body)
        }
      })
      this.#links.set(gw.id, link)
      this.#linkAddress.set(gw.id, gw.address)
      link.start()
    }
    this.#linkGauge()
  }

  async stop(): Promise<void> {
    if (this.#expiry !== null) clearInterval(this.#expiry)
    await this.#follower?.stop()
    await Promise.all([...this.#links.values()].map(async l => await l.close()))
    this.#links.clear()
    await Promise.all(this.#servers.map(async s => await s.close()))
    this.#servers = []
    await this.#store?.close().catch(() => {})
  }

  async #onDeliver(link: OutLink, body: Buffer): Promise<void> {
    const deliveryId = Buffer.from(body.subarray(0, 8))
    try {
      await this.#handle(Buffer.from(body.subarray(8, 8 + G.userPayloadBytes)))
      link.send(encodeFrame(G, FRAME.ACK, deliveryId))
    } catch (e) {
      // Not acknowledged: the gateway keeps the packet and sends it again after a reconnect.
      this.#log.error(
        { event: 'handle_failed', code: (e as { code?: string }).code },
        'a delivered packet could not be handled'
      )
    }
    this.#gauges()
  }

  async #handle(payload: Buffer): Promise<void> {
    const opened = openIngressPayload(this.#c, G, payload, this.#keys.box)
    if (!opened.ok) {
      this.metrics.fragments.inc({ result: opened.code === 'SEAL_SUBMIT_UNOPENABLE' ? 'unopenable' : 'malformed' })
      return
    }
    const { surb, fragment } = opened.value
    const head = parseFragment(fragment)
    if (!head.ok) {
      this.metrics.fragments.inc({ result: 'malformed' })
      return
    }
    const { messageId, index } = head.value
    const id = messageId.toString('hex')
    const r = this.#reasm.add(fragment, this.#now())
    let status: AckStatus
    if (r.status === 'rejected') {
      const full = r.code === 'SEAL_REASSEMBLY_FULL'
      this.metrics.fragments.inc({ result: full ? 'full' : 'malformed' })
      status = full ? ACK_STATUS.tryLater : ACK_STATUS.refused
    } else if (r.status === 'duplicate') {
      this.metrics.fragments.inc({ result: 'duplicate' })
      status = this.#final.get(id) ?? ACK_STATUS.received
    } else if (r.status === 'incomplete') {
      this.metrics.fragments.inc({ result: 'accepted' })
      status = ACK_STATUS.received
    } else {
      this.metrics.fragments.inc({ result: 'accepted' })
      status = await this.#complete(messageId, r.message)
    }
    this.#answer(surb, messageId, index, status)
  }

  /** A whole message: authorize, rate-limit, deliver. Returns the status the sender is told. */
  async #complete(messageId: Buffer, message: Buffer): Promise<AckStatus> {
    const id = messageId.toString('hex')
    const now = this.#now()
    const refuse = (reason: string): AckStatus => {
      this.metrics.messages.inc({ result: 'refused' })
      this.metrics.refused.inc({ reason })
      this.#setFinal(id, ACK_STATUS.refused)
      return ACK_STATUS.refused
    }
    const retry = (result: 'retry' | 'rate_limited'): AckStatus => {
      this.metrics.messages.inc({ result })
      this.#reasm.forget(messageId)
      return ACK_STATUS.tryLater
    }
    const req = parseSubmit(message)
    if (!req.ok) return refuse('malformed')
    const to = destinationOf(req.value, this.#store, this.#cfg.serverName)
    const chk = checkDelivery(this.#c, req.value, {
      nowMs: now,
      lookup: () => to.lookup(now),
      seen: h => {
        const as = this.#store.deliveredAs(h)
        return as !== undefined && as !== id
      }
    })
    if (!chk.ok) return refuse(chk.detail ?? 'malformed')
    if (this.#store.deliveredAs(chk.value.envelopeHash) === id) {
      // Delivered before a restart or a lost ack: say so again without a second delivery.
      this.metrics.messages.inc({ result: 'duplicate' })
      this.#setFinal(id, ACK_STATUS.delivered)
      return ACK_STATUS.delivered
    }
    if (to.problem !== null) return refuse(to.problem)
    if (!this.#limiter.take(req.value.dest, now)) return retry('rate_limited')
    if (this.#store.replayFull) return retry('retry')
    const t0 = process.hrtime.bigint()
    const result = await to.deliver(this.#sink, id)
    this.metrics.sinkSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9)
    if (result === 'retry') return retry('retry')
    if (result === 'refused') return refuse('sink')
    await this.#store.recordDelivered(chk.value.envelopeHash, messageId, now)
    this.metrics.messages.inc({ result: 'delivered' })
    this.#setFinal(id, ACK_STATUS.delivered)
    return ACK_STATUS.delivered
  }

  #answer(surb: Buffer | null, messageId: Buffer, index: number, status: AckStatus): void {
    if (surb === null) return
    const { packet, firstHop } = this.#sphinx.packetFromSurb(surb, encodeAck(G, { messageId, index, status }))
    const link = this.#links.get(firstHop.toString('hex'))
    const sent = link?.send(encodeFrame(G, FRAME.PACKET, packet))
    this.metrics.answers.inc({ result: sent ? 'sent' : 'no_link' })
  }

  #setFinal(id: string, s: AckStatus): void {
    this.#final.delete(id)
    this.#final.set(id, s)
    while (this.#final.size > MAX_FINAL) this.#final.delete(this.#final.keys().next().value as string)
  }

  #linkGauge(): void {
    const up = this.linksUp
    this.metrics.links.set({ state: 'up' }, up)
    this.metrics.links.set({ state: 'down' }, this.#links.size - up)
  }

  #gauges(): void {
    this.metrics.bindingExpiry.set(Math.round((this.#keys.binding.notAfterMs - this.#now()) / 1000))
    this.metrics.partial.set(this.#reasm.partialMessages)
    this.metrics.replayEntries.set(this.#store.replayEntries)
    this.metrics.rooms.set(this.#store.rooms)
  }
}

function loadNetworkFile(c: CryptoSuite, file: string, signers: readonly string[], nowMs: number): NetworkDocument {
  const r = readNetworkFile(c, file, signers, G, nowMs)
  if (r.kind !== 'verified') throw new IngressError('INGRESS_NETWORK_INVALID', networkFileProblem(file, r)!)
  return r.doc
}
