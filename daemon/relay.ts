/**
 * The relay: wires keys, network view, store, unwrap workers, listener, outgoing links, mixer,
 * edge (gateways), loops and the operations listener. Starts in dependency order and stops in
 * reverse; if start fails midway, what already started is stopped.
 *
 * Packet path: frame in -> unwrap worker -> replay filter (main thread) -> staged -> mixing round
 * (synced commit) -> frame out. Every drop is counted by reason.
 */
import { join } from 'node:path'
import {
  createPool, encodeFrame, FRAME, loadCrypto, NETWORK_GEOMETRY, parseFrame, ReplayFilter, Sphinx, systemRng,
  type BindingName, type CryptoSuite, type Rng
} from '../mix/index.ts'
import type { RelayConfig } from './config.ts'
import { Edge } from './edge.ts'
import { RelayError } from './errors.ts'
import { startOpsServer, type OpsServer } from './http.ts'
import { loadKeys, type RelayKeys } from './keys.ts'
import { createLogger, type Logger } from './log.ts'
import { Loops } from './loops.ts'
import { RelayMetrics, type DropReasonLabel } from './metrics.ts'
import { Mixer, type Outbound } from './mixer.ts'
import { loadNetwork, NetworkView } from './network.ts'
import { openDatabase, type Db } from './store/db.ts'
import { QueueStore } from './store/queue-store.ts'
import { ReplayStore } from './store/replay-store.ts'
import { OutLink } from './transport/link.ts'
import { Listener, type Conn, type ConnKind } from './transport/server.ts'
import type { RawMessage } from './transport/frame-reader.ts'
import { UnwrapPool, type Unwrapped } from './unwrap-pool.ts'

export interface RelayOptions {
  readonly config: RelayConfig
  readonly logger?: Logger
  /** Pin a crypto binding (tests, benchmarks). @default 'auto' */
  readonly binding?: BindingName | 'auto'
  readonly now?: () => number
  /** Shortest wait before re-dialling a dead peer. @default 5000 */
  readonly minRetryMs?: number
  /** Longest wait between re-dials (backoff cap). @default 60000 */
  readonly maxRetryMs?: number
}

interface Ctx { readonly link: ConnKind }

const ZERO32 = '0'.repeat(64)
const EPOCH = 0 // static network file; the directory issue adds epochs

export class Relay {
  readonly #o: RelayOptions
  readonly #cfg: RelayConfig
  readonly log: Logger
  readonly metrics: RelayMetrics
  readonly #now: () => number
  #crypto!: CryptoSuite
  #rng!: Rng
  #keys!: RelayKeys
  #view!: NetworkView
  #db: Db | null = null
  #filter!: ReplayFilter
  #pool: UnwrapPool<Ctx> | null = null
  #listener: Listener | null = null
  #links = new Map<string, OutLink>()
  #mixer: Mixer | null = null
  #edge: Edge | null = null
  #loops: Loops | null = null
  #ops: OpsServer | null = null
  #coverStock = new Map<string, Buffer[]>()
  #coverPending = new Set<string>()
  #loopTimer: NodeJS.Timeout | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #sphinx!: Sphinx
  #myLayer = 0
  #ready = false
  #stopping: Promise<void> | null = null
  port = 0
  metricsPort = 0

  constructor (o: RelayOptions) {
    this.#o = o
    this.#cfg = o.config
    this.log = o.logger ?? createLogger(o.config.log.level)
    this.metrics = new RelayMetrics(o.config.role)
    this.#now = o.now ?? Date.now
  }

  get id (): string { return this.#keys.id }
  get ready (): boolean { return this.#ready }
  /** Outgoing relay links that are up (ids). */
  get linksUp (): string[] { return [...this.#links.values()].filter(l => l.ready).map(l => l.peerId) }

  async start (): Promise<void> {
    try {
      await this.#start()
    } catch (e) {
      await this.stop()
      throw e
    }
  }

  async #start (): Promise<void> {
    const cfg = this.#cfg
    const g = NETWORK_GEOMETRY
    this.#crypto = await loadCrypto(this.#o.binding ?? 'auto')
    this.#rng = systemRng(this.#crypto)
    this.#sphinx = new Sphinx(this.#crypto, g)
    this.#keys = loadKeys(this.#crypto, cfg.dataDir)
    this.#view = loadNetwork(this.#crypto, cfg.network.file, cfg.network.signers, g, this.#now())
    const me = this.#view.relay(this.#keys.id)
    if (me === undefined || me.role !== cfg.role || me.mixKey !== this.#keys.mix.publicKey.toString('hex')) throw RelayError.NOT_IN_NETWORK()
    this.#myLayer = me.layer
    this.metrics.networkAge.set(Math.max(0, (this.#now() - this.#view.doc.validFromMs) / 1000))

    this.#db = await openDatabase(join(cfg.dataDir, 'db'))
    const replay = new ReplayStore(this.#db)
    this.#filter = new ReplayFilter(cfg.replay.capacity, cfg.replay.falsePositiveRate)
    const loaded = await replay.load(EPOCH, this.#filter)
    this.metrics.replayFill.set(this.#filter.count / this.#filter.capacity)
    let spool: QueueStore | null = null
    let mailbox: QueueStore | null = null
    if (cfg.role === 'gateway') {
      spool = new QueueStore(this.#db, 'spool', { quota: cfg.spool.maxPacketsPerDestination, ttlMs: cfg.spool.ttlMs })
      mailbox = new QueueStore(this.#db, 'mailbox', { quota: cfg.mailbox.maxPacketsPerMailbox, ttlMs: cfg.mailbox.ttlMs })
      await spool.load()
      await mailbox.load()
      this.#edge = new Edge({ crypto: this.#crypto, geometry: g, spool, mailbox, mailboxKey: this.#keys.mailboxKey, pullBatch: cfg.mailbox.pullBatch, metrics: this.metrics })
    }

    this.#pool = new UnwrapPool<Ctx>({ workers: cfg.limits.workers, geometry: g, maxQueued: 8192, onResults: r => this.#route(r) })
    await this.#pool.init({ binding: this.#crypto.name, keys: [this.#keys.mix.secretKey], maxDelayMs: this.#view.doc.mixing.maxDelayMs })

    const params = this.#view.doc.mixing
    const identity = { id: Buffer.from(this.#keys.id, 'hex'), secretKey: this.#keys.identity.secretKey }
    this.#mixer = new Mixer({
      db: this.#db,
      pool: createPool<Outbound>(params, cfg.limits.maxPoolPackets),
      params,
      rng: this.#rng,
      now: this.#now,
      epoch: EPOCH,
      replay,
      spool,
      mailbox,
      metrics: this.metrics,
      links: {
        ready: () => [...this.#links.values()].filter(l => l.ready).map(l => l.peerId),
        send: (to, p) => this.#links.get(to)?.send(encodeFrame(g, FRAME.PACKET, p)) ?? false,
        cover: (to) => this.#takeCover(to)
      },
      spooled: ids => { for (const id of ids) void this.#edge?.push(id) },
      extraOps: () => {
        const ops = this.#edge?.takeOps() ?? []
        if (spool !== null && mailbox !== null) {
          for (const q of [spool, mailbox]) {
            const x = q.expire(this.#now())
            if (x.expired > 0) { ops.push(...x.ops); this.metrics.dropped.inc({ reason: 'ttl' }, x.expired) }
          }
        }
        return ops
      },
      onError: e => this.log.error({ err: (e as Error).message }, 'mixing round failed')
    })

    this.#listener = new Listener({
      crypto: this.#crypto,
      geometry: g,
      identity,
      host: cfg.listen.host,
      port: cfg.listen.port,
      tls: cfg.tls,
      ...cfg.limits,
      kinds: new Set<ConnKind>(cfg.role === 'gateway' ? ['client', 'relay', 'ingress'] : ['relay']),
      keyOf: (kind, id) => {
        if (kind === 'relay') { const r = this.#view.relay(id); return r === undefined ? undefined : Buffer.from(r.identityKey, 'hex') }
        const i = this.#view.ingress(id)
        return i !== undefined && i.gateways.includes(this.#keys.id) ? Buffer.from(i.identityKey, 'hex') : undefined
      },
      onOpen: c => this.#opened(c),
      onClose: c => this.#closed(c),
      onMessage: (c, m) => this.#message(c, m),
      onHandshakeFailed: kind => this.metrics.handshakeFailures.inc({ link: kind === 'relay' ? 'peer' : kind })
    })
    this.port = await this.#listener.start()

    const next = this.#view.layer(NetworkView.nextLayer(this.#myLayer))
    for (const r of next) {
      const link = new OutLink({
        crypto: this.#crypto, geometry: g, identity, role: 'relay', peerId: r.id, peerKey: Buffer.from(r.identityKey, 'hex'), address: r.address,
        maxBufferedBytes: cfg.limits.maxBufferedBytes, handshakeTimeoutMs: cfg.limits.handshakeTimeoutMs, pingIntervalMs: cfg.limits.pingIntervalMs,
        minRetryMs: this.#o.minRetryMs,
        maxRetryMs: this.#o.maxRetryMs,
        onUp: () => { this.metrics.connections.inc({ link: 'peer' }); this.#refillCover(r.id, r.mixKey) },
        onDown: () => this.metrics.connections.dec({ link: 'peer' }),
        onHandshakeFailed: () => this.metrics.handshakeFailures.inc({ link: 'peer' })
      })
      this.#links.set(r.id, link)
      link.start()
    }

    this.#loops = new Loops({ sphinx: this.#sphinx, rng: this.#rng, myId: this.#keys.id, myLayer: this.#myLayer, myMixKey: this.#keys.mix.publicKey, doc: this.#view.doc, metrics: this.metrics })
    if (params.loopRatePerSec > 0) this.#scheduleLoop(params.loopRatePerSec)
    const refresh = (): void => {
      this.#loops?.sweep(this.#now())
      if (spool !== null && mailbox !== null) {
        this.metrics.spoolPackets.set(spool.count); this.metrics.spoolBytes.set(spool.bytes); this.metrics.spoolOldest.set(spool.oldestAgeSeconds(this.#now()))
        this.metrics.mailboxPackets.set(mailbox.count); this.metrics.mailboxOldest.set(mailbox.oldestAgeSeconds(this.#now()))
      }
      this.metrics.networkAge.set(Math.max(0, (this.#now() - this.#view.doc.validFromMs) / 1000))
      const buffered = this.#listener?.bufferedByKind()
      if (buffered !== undefined) {
        let peer = buffered.relay
        for (const l of this.#links.values()) peer += l.bufferedAmount
        this.metrics.sendBuffer.set({ link: 'peer' }, peer)
        this.metrics.sendBuffer.set({ link: 'client' }, buffered.client)
        this.metrics.sendBuffer.set({ link: 'ingress' }, buffered.ingress)
      }
    }
    refresh()
    this.#sweepTimer = setInterval(refresh, 1000)
    this.#sweepTimer.unref()

    this.#mixer.start()
    if (cfg.metrics.enabled) {
      this.#ops = await startOpsServer({ host: cfg.metrics.host, port: cfg.metrics.port, token: cfg.metrics.token, metrics: this.metrics, ready: () => this.#ready })
      this.metricsPort = this.#ops.port
    }
    this.#ready = true
    this.log.info({ role: cfg.role, layer: this.#myLayer, replayTagsLoaded: loaded, spooled: spool?.count ?? 0 }, 'relay started')
  }

  #scheduleLoop (rate: number): void {
    this.#loopTimer = setTimeout(() => {
      const l = this.#loops?.make(this.#now())
      if (l !== null && l !== undefined && this.#links.has(l.to)) this.#mixer?.stage({ out: { kind: 'peer', to: l.to, packet: l.packet }, delayMs: 0 })
      if (this.#stopping === null) this.#scheduleLoop(rate)
    }, this.#loops!.nextGapMs(rate))
    this.#loopTimer.unref()
  }

  #takeCover (to: string): Buffer {
    const stock = this.#coverStock.get(to)
    const r = this.#view.relay(to)!
    if (stock === undefined || stock.length < 128) this.#refillCover(to, r.mixKey)
    const p = stock?.pop()
    if (p !== undefined) return p
    // Out of stock: build one here rather than break the padding invariant.
    return this.#sphinx.createPacket([{ id: Buffer.from(to, 'hex'), publicKey: Buffer.from(r.mixKey, 'hex'), commands: [{ type: 'node_delay', delayMs: 0 }, { type: 'recipient', id: Buffer.alloc(32) }] }], this.#rng.bytes(NETWORK_GEOMETRY.userPayloadBytes), this.#rng)
  }

  #refillCover (to: string, mixKey: string): void {
    if (this.#coverPending.has(to) || this.#pool === null) return
    this.#coverPending.add(to)
    void this.#pool.cover(256, to, mixKey).then(buf => {
      this.#coverPending.delete(to)
      const P = NETWORK_GEOMETRY.packetBytes
      const stock = this.#coverStock.get(to) ?? []
      for (let i = 0; i < buf.length / P; i++) stock.push(buf.subarray(i * P, (i + 1) * P))
      this.#coverStock.set(to, stock.slice(-1024))
    })
  }

  #opened (c: Conn): void {
    this.metrics.connections.inc({ link: c.kind === 'relay' ? 'peer' : c.kind })
    if (c.kind === 'ingress') this.#edge?.ingressUp(c.peerId!, c)
  }

  #closed (c: Conn): void {
    this.metrics.connections.dec({ link: c.kind === 'relay' ? 'peer' : c.kind })
    if (c.kind === 'ingress') this.#edge?.ingressDown(c.peerId!, c)
  }

  #drop (reason: DropReasonLabel): void { this.metrics.dropped.inc({ reason }) }

  #message (c: Conn, m: RawMessage): void {
    const link = c.kind === 'relay' ? 'peer' : c.kind
    const f = m.isBinary ? parseFrame(NETWORK_GEOMETRY, m.data) : null
    if (f === null) { this.#drop('malformed'); return }
    if (f.kind === FRAME.PACKET) {
      this.metrics.received.inc({ link })
      if (this.#stopping !== null || !this.#pool!.submit(f.body, { link: c.kind })) this.#drop('queue_full')
      return
    }
    if (c.kind === 'ingress' && f.kind === FRAME.ACK) { this.#edge?.ingressAck(c.peerId!, f.body); return }
    if (c.kind === 'client' && f.kind === FRAME.PULL) { void this.#edge?.pull(c, f.body); return }
    if (c.kind === 'client' && f.kind === FRAME.ACK) { this.#edge?.clientAck(c, f.body); return }
    this.#drop('malformed')
  }

  #route (results: Array<Unwrapped<Ctx>>): void {
    const mixer = this.#mixer!
    const g = NETWORK_GEOMETRY
    for (const { ctx, result: r, bytes, tag } of results) {
      if (r.t === 0) { this.#drop(r.reason as DropReasonLabel); continue }
      // Replay check on the main thread, so every worker shares one filter.
      if (this.#filter.full) { this.#drop('replay_full'); continue }
      if (!this.#filter.add(tag)) { this.#drop('replay'); continue }
      const t = Buffer.from(tag)
      if (r.t === 1) {
        const next = this.#view.relay(r.hop)
        if (next === undefined || next.layer !== NetworkView.nextLayer(this.#myLayer) || !this.#links.has(r.hop) || (ctx.link !== 'relay' && this.#myLayer !== 0)) {
          this.#drop('unknown_hop'); mixer.stage({ out: null, tag: t, delayMs: 0 }); continue
        }
        mixer.stage({ out: { kind: 'peer', to: r.hop, packet: Buffer.from(bytes) }, tag: t, delayMs: r.delay })
      } else if (r.t === 2) {
        if (r.hop === ZERO32) { this.metrics.coverReceived.inc(); mixer.stage({ out: null, tag: t, delayMs: 0 }); continue }
        if (r.hop === this.#keys.id) { this.#loops?.returned(bytes.subarray(0, g.userPayloadBytes)); mixer.stage({ out: null, tag: t, delayMs: 0 }); continue }
        const ing = this.#view.ingress(r.hop)
        if (this.#cfg.role !== 'gateway' || ing === undefined || !ing.gateways.includes(this.#keys.id)) { this.#drop('unknown_hop'); mixer.stage({ out: null, tag: t, delayMs: 0 }); continue }
        mixer.stage({ out: { kind: 'ingress', to: r.hop, payload: Buffer.from(bytes.subarray(0, g.userPayloadBytes)) }, tag: t, delayMs: r.delay })
      } else if (r.t === 3) {
        if (this.#cfg.role !== 'gateway') { this.#drop('unknown_hop'); mixer.stage({ out: null, tag: t, delayMs: 0 }); continue }
        const record = Buffer.concat([Buffer.from(r.surbId, 'hex'), bytes.subarray(0, g.bodyBytes)])
        mixer.stage({ out: { kind: 'mailbox', to: this.#edge!.mailboxKeyOf(Buffer.from(r.hop, 'hex')), record }, tag: t, delayMs: 0 })
      }
    }
    this.metrics.replayFill.set(this.#filter.count / this.#filter.capacity)
  }

  /**
   * Graceful stop: refuse new connections and packets, let the running round finish (its commit
   * and sends), commit the replay tags of staged packets, close links, workers and the database.
   * Packets still pooled are dropped (documented in OPERATIONS.md). Idempotent.
   */
  async stop (): Promise<void> {
    if (this.#stopping !== null) return await this.#stopping
    this.#stopping = (async () => {
      this.#ready = false
      clearTimeout(this.#loopTimer)
      clearInterval(this.#sweepTimer)
      this.#listener?.stopAccepting()
      await this.#mixer?.stop()
      if (this.#db !== null && this.#mixer !== null) await this.#mixer.flushTags().catch(() => {})
      await Promise.all([...this.#links.values()].map(async l => await l.close()))
      await this.#listener?.close()
      await this.#pool?.close()
      await this.#ops?.close()
      await this.#db?.close()
      this.log.info('relay stopped')
    })()
    return await this.#stopping
  }
}
