/**
 * The relay: wires keys, network view, store, unwrap workers, listener, outgoing links, mixer,
 * edge (gateways), loops and the operations listener. Starts in dependency order and stops in
 * reverse; if start fails midway, what already started is stopped.
 *
 * Packet path: frame in -> unwrap worker -> replay filter of the key's epoch (main thread) ->
 * staged -> mixing round (synced commit) -> frame out. router.ts decides where each frame and
 * unwrapped packet goes, and lists every place a packet is dropped.
 *
 * The network view comes from a static signed file (`network`) or from directory authorities
 * (`directory`, daemon/relay/keys/epochs.ts): then mix keys rotate per epoch, each live key has its
 * own replay filter, and links follow the current document.
 *
 * A reload (SIGHUP, reconfigure) applies what can change while it runs: the limits other than
 * the worker count, the spool's and mailboxes' quotas and TTLs, the
 * metrics token, the TLS files and the log level. Open links are never closed for it.
 */
import {
  type BindingName,
  type CryptoSuite,
  createPool,
  type IngressDescriptor,
  loadCrypto,
  type MixStrategy,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  packetFrame,
  type ReplayFilter,
  type Rng,
  Sphinx,
  systemRng
} from '../../mix/index.ts'
import type { Db } from '../io/index.ts'
import {
  createLogger,
  Health,
  type Logger,
  type OpsServer,
  probeBind,
  RelayError,
  startOpsServer
} from '../io/index.ts'
import type { RelayConfig } from './config.ts'
import { drop } from './drops.ts'
import { Edge } from './gateway/edge.ts'
import { QueueStore, queueGauges } from './gateway/queue-store.ts'
import { RelayEpochs } from './keys/epochs.ts'
import { loadIdentity, loadKeys, type RelayIdentity } from './keys/identity.ts'
import { type MixKeyPair, workerKeys } from './keys/keyring.ts'
import { ReplayStore } from './keys/replay-store.ts'
import { type Conn, type ConnKind, Listener, readTls } from './listener/server.ts'
import { Loops } from './loops.ts'
import { RelayMetrics } from './metrics.ts'
import { Mixer, type Outbound } from './mixer.ts'
import { loadNetwork, NetworkView, servesIngress } from './network.ts'
import { NextLayer } from './next-layer.ts'
import { type PacketCtx, Router } from './router.ts'
import { UnwrapPool } from './unwrap/pool.ts'

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

/** A static network file's one mix key never rotates: its replay tags keep one epoch label, whatever epoch the file names. */
const STATIC_EPOCH = 0

export class Relay {
  readonly #o: RelayOptions
  /** The config in force: the file's at start, with what reloads applied since. */
  #cfg: RelayConfig
  readonly log: Logger
  readonly metrics: RelayMetrics
  /** What keeps the relay from being ready: a store or timer failing, a refused key (/readyz). */
  readonly health = new Health(() => this.log)
  readonly #now: () => number
  #crypto!: CryptoSuite
  #rng!: Rng
  #keys!: RelayIdentity
  /** This relay's mix public key per live epoch (loops are addressed to it). */
  readonly #mixPublic = new Map<number, Buffer>()
  #view!: NetworkView
  #db: Db | null = null
  #replay!: ReplayStore
  /** One replay filter per live mix key, by epoch. */
  readonly #filters = new Map<number, ReplayFilter>()
  #epochs: RelayEpochs | null = null
  #listed = false
  #pool: UnwrapPool<PacketCtx> | null = null
  #router: Router | null = null
  #listener: Listener | null = null
  #next: NextLayer | null = null
  #mixer: Mixer | null = null
  #mixPool: MixStrategy<Outbound> | null = null
  #edge: Edge | null = null
  #spool: QueueStore | null = null
  #mailbox: QueueStore | null = null
  #loops: Loops | null = null
  #ops: OpsServer | null = null
  #loopTimer: NodeJS.Timeout | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #sphinx!: Sphinx
  #myLayer = 0
  #ready = false
  #stopping: Promise<void> | null = null
  port = 0
  metricsPort = 0

  constructor(o: RelayOptions) {
    this.#o = o
    this.#cfg = o.config
    this.log = o.logger ?? createLogger(o.config.log.level)
    this.metrics = new RelayMetrics(o.config.role)
    this.#now = o.now ?? Date.now
  }

  get id(): string {
    return this.#keys.id
  }
  /** Started, and listed with its current key in the network document in use. */
  get ready(): boolean {
    return this.#ready && this.#listed && this.health.reason() === null
  }
  /** The epoch of the document in use. */
  get epoch(): number {
    return this.#view.doc.epoch
  }
  /** Replay tags stored for one epoch (inspection and tests). */
  async replayTags(epoch: number): Promise<number> {
    return await this.#replay.count(epoch)
  }
  /** Epochs whose private mix key is live (in the unwrap workers). */
  get liveEpochs(): number[] {
    return [...this.#filters.keys()].sort((a, b) => a - b)
  }
  /** Outgoing relay links that are up (ids). */
  get linksUp(): string[] {
    return this.#next?.up ?? []
  }
  /** The config in force: the file's at start, with what reloads applied since. */
  get config(): RelayConfig {
    return this.#cfg
  }

  /**
   * A reload (SIGHUP): from `next`, a config already validated, apply what can change while the
   * relay runs, and return the config now in force; every other key keeps its running value (the
   * caller names them). Nothing open is closed: a limit lowered below what is held refuses
   * newcomers until the count is under it. Mixing parameters are not config: they come with each
   * network document. Throws, having changed nothing, when the TLS files cannot be read.
   */
  reconfigure(next: RelayConfig): RelayConfig {
    const cur = this.#cfg
    // First, as the one step that can fail: a bad certificate leaves everything as it was.
    // TLS cannot be turned on or off while listening (ws:// and wss:// are different servers).
    const tls = cur.tls !== undefined && next.tls !== undefined ? next.tls : cur.tls
    if (tls !== undefined) {
      const files = readTls(tls)
      this.#listener?.useTls(files)
    }
    const authorities = this.#followAuthorities(cur, next)
    this.#cfg = Object.freeze({
      ...cur,
      tls,
      directory:
        cur.directory === undefined || authorities === undefined ? cur.directory : { ...cur.directory, authorities },
      metrics: { ...cur.metrics, token: next.metrics.token },
      // Workers are threads started once.
      limits: { ...next.limits, workers: cur.limits.workers },
      spool: next.spool,
      // Every pull answers exactly pullBatch frames, and each client's pull memory is sized by it;
      // the push timer runs at one interval for every subscriber.
      mailbox: {
        ...next.mailbox,
        pullBatch: cur.mailbox.pullBatch,
        pushIntervalMs: cur.mailbox.pushIntervalMs,
        pushBatch: cur.mailbox.pushBatch
      },
      log: next.log
    })
    this.#applyLimits()
    return this.#cfg
  }

  /**
   * A new authority list is taken once a majority of it serves the schedule the relay runs on
   * (RelayEpochs.setAuthorities, asked in the background); until then, and if it does not, the
   * relay follows the old list, and says which happened.
   */
  #followAuthorities(
    cur: RelayConfig,
    next: RelayConfig
  ): NonNullable<RelayConfig['directory']>['authorities'] | undefined {
    const old = cur.directory?.authorities
    const want = next.directory?.authorities
    if (old === undefined || want === undefined || JSON.stringify(old) === JSON.stringify(want)) return old
    const epochs = this.#epochs
    if (epochs === null) return old
    void epochs.setAuthorities(want).then(
      r => {
        if (r === 'refused') {
          this.#cfg = Object.freeze({ ...this.#cfg, directory: { ...this.#cfg.directory!, authorities: old } })
          this.log.warn(
            { event: 'authorities_refused' },
            "SIGHUP: the new directory.authorities do not (yet) serve this network's schedule; the relay keeps following the old list"
          )
        } else
          this.log.info(
            { event: 'authorities_followed', authorities: want.length },
            'SIGHUP: now following the new directory.authorities'
          )
      },
      e => this.health.fail('epochs', e)
    )
    return want
  }

  /** Hand the limits in force to whatever holds them (each a no-op until that part has started). */
  #applyLimits(): void {
    const c = this.#cfg
    this.#listener?.setLimits(c.limits)
    this.#pool?.setLimits({ maxQueued: c.limits.maxUnwrapQueue, maxQueuedPerClient: c.limits.maxUnwrapQueuePerClient })
    this.#next?.setLimits(c.limits)
    this.#mixPool?.resize(c.limits.maxPoolPackets)
    this.#spool?.setLimits({ quota: c.spool.maxPacketsPerDestination, ttlMs: c.spool.ttlMs })
    this.#mailbox?.setLimits({ quota: c.mailbox.maxPacketsPerMailbox, ttlMs: c.mailbox.ttlMs })
    this.#ops?.setToken(c.metrics.token)
  }

  async start(): Promise<void> {
    try {
      await this.#start()
    } catch (e) {
      await this.stop()
      throw e
    }
  }

  async #start(): Promise<void> {
    // What a reload can change is read from this.#cfg where each part is made, and handed over
    // again at the end (#applyLimits), since a SIGHUP may come during any await below.
    const cfg = this.#cfg
    const g = NETWORK_GEOMETRY
    this.#crypto = await loadCrypto(this.#o.binding ?? 'auto')
    this.#rng = systemRng(this.#crypto)
    this.#sphinx = new Sphinx(this.#crypto, g)
    this.#replay = await ReplayStore.open(cfg.dataDir, this.health)
    this.#db = this.#replay.db
    // After the store's lock (a second process on this data directory fails on that, 75), before
    // the directory wait, so that a liveness probe sees the process while it waits.
    if (cfg.metrics.enabled) {
      this.#ops = await startOpsServer({
        host: cfg.metrics.host,
        port: cfg.metrics.port,
        token: this.#cfg.metrics.token,
        metrics: this.metrics,
        ready: () =>
          this.#stopping !== null
            ? 'stopping'
            : !this.#ready
              ? (this.#epochs?.waiting ?? 'starting')
              : !this.#listed
                ? "not listed in the current network document with this relay's role, layer and key"
                : this.health.reason()
      })
      this.metricsPort = this.#ops.port
    }
    let staticKey: { epoch: number; key: MixKeyPair } | null = null
    if (cfg.network !== undefined) {
      const keys = loadKeys(this.#crypto, cfg.dataDir)
      this.#keys = keys
      this.#view = loadNetwork(this.#crypto, cfg.network.file, cfg.network.signers, g, this.#now())
      const me = this.#view.relay(this.#keys.id)
      if (me === undefined || me.role !== cfg.role || me.mixKey !== keys.mix.publicKey.toString('hex'))
        throw RelayError.NOT_IN_NETWORK()
      this.#myLayer = me.layer
      this.metrics.describe(me.layer)
      this.#listed = true
      staticKey = { epoch: STATIC_EPOCH, key: keys.mix }
    } else {
      this.#keys = loadIdentity(this.#crypto, cfg.dataDir)
      this.#myLayer = cfg.directory!.layer
      this.metrics.describe(cfg.directory!.layer)
      const d = cfg.directory!
      this.#epochs = new RelayEpochs({
        crypto: this.#crypto,
        dataDir: cfg.dataDir,
        authorities: d.authorities,
        identity: this.#keys.identity,
        self: { id: this.#keys.id, role: cfg.role, layer: d.layer, address: d.address },
        maxSkewMs: d.maxSkewMs,
        now: this.#now,
        log: this.log,
        health: this.health,
        replay: this.#replay,
        onRejected: reason => this.metrics.directoryRejected.inc({ reason })
      })
      // Its descriptor publishes this address: a port held by another program is refused first.
      await probeBind('listen', cfg.listen.host, cfg.listen.port)
      const first = await this.#epochs.firstDocument(() => this.#stopping !== null)
      if (first === null) throw RelayError.NETWORK_INVALID('DIR_NONE_VALID', 'stopped while waiting for the directory')
      this.#view = new NetworkView(first)
    }
    this.metrics.networkAge.set(Math.max(0, (this.#now() - this.#view.doc.validFromMs) / 1000))
    this.metrics.epoch.set(this.#view.doc.epoch)
    this.metrics.epochLength.set((this.#view.doc.epochMs ?? 0) / 1000)
    let loaded = 0
    let spool: QueueStore | null = null
    let mailbox: QueueStore | null = null
    if (cfg.role === 'gateway') {
      const c = this.#cfg
      spool = new QueueStore(this.#db, 'spool', { quota: c.spool.maxPacketsPerDestination, ttlMs: c.spool.ttlMs })
      mailbox = new QueueStore(this.#db, 'mailbox', { quota: c.mailbox.maxPacketsPerMailbox, ttlMs: c.mailbox.ttlMs })
      this.#spool = spool
      this.#mailbox = mailbox
      await spool.load()
      await mailbox.load()
      this.#edge = new Edge({
        crypto: this.#crypto,
        geometry: g,
        spool,
        mailbox,
        mailboxKey: this.#keys.mailboxKey,
        pullBatch: cfg.mailbox.pullBatch,
        pushIntervalMs: cfg.mailbox.pushIntervalMs,
        pushBatch: cfg.mailbox.pushBatch,
        metrics: this.metrics
      })
    }

    this.#pool = new UnwrapPool<PacketCtx>({
      workers: cfg.limits.workers,
      geometry: g,
      maxQueued: this.#cfg.limits.maxUnwrapQueue,
      maxQueuedPerClient: this.#cfg.limits.maxUnwrapQueuePerClient,
      metrics: this.metrics,
      onResults: r => this.#router!.route(r)
    })
    await this.#pool.init({
      binding: this.#crypto.name,
      keys: [],
      epochs: [],
      maxDelayMs: this.#view.doc.mixing.maxDelayMs
    })
    if (staticKey !== null) loaded = await this.#setKeys([staticKey], [])

    const params = this.#view.doc.mixing
    const identity = { id: Buffer.from(this.#keys.id, 'hex'), secretKey: this.#keys.identity.secretKey }
    this.#mixPool = createPool<Outbound>(params, cfg.limits.maxPoolPackets)
    this.#mixer = new Mixer({
      db: this.#db,
      pool: this.#mixPool,
      params,
      rng: this.#rng,
      now: this.#now,
      replay: this.#replay,
      spool,
      mailbox,
      metrics: this.metrics,
      links: {
        ready: () => this.#next!.up,
        send: (to, p) => this.#next!.send(to, p),
        cover: to => this.#next!.cover(to),
        cork: () => this.#next!.cork(),
        uncork: () => this.#next!.uncork()
      },
      spooled: ids => {
        for (const id of ids) void this.#edge?.push(id)
      },
      extraOps: () => {
        const ops = this.#edge?.takeOps() ?? []
        if (spool !== null && mailbox !== null) {
          for (const q of [spool, mailbox]) {
            const x = q.expire(this.#now())
            if (x.expired > 0) {
              ops.push(...x.ops)
              drop(this.metrics, 'ttl', x.expired)
            }
          }
        }
        return ops
      },
      health: this.health,
      onError: e => this.health.fail('rounds', e)
    })
    this.#router = new Router({
      geometry: g,
      metrics: this.metrics,
      self: { id: this.#keys.id, layer: this.#myLayer },
      layerOf: id => this.#view.relay(id)?.layer,
      servesIngress: id => {
        const i = this.#view.ingress(id)
        return i !== undefined && this.#serves(i)
      },
      filter: epoch => this.#filters.get(epoch),
      linkUp: id => this.#next?.has(id) === true,
      pool: this.#pool,
      mixer: this.#mixer,
      loopReturned: payload => this.#loops?.returned(payload),
      edge: this.#edge,
      stopping: () => this.#stopping !== null,
      routed: () => this.#updateReplayFill()
    })

    this.#listener = new Listener({
      crypto: this.#crypto,
      geometry: g,
      identity,
      host: cfg.listen.host,
      port: cfg.listen.port,
      tls: this.#cfg.tls,
      ...this.#cfg.limits,
      kinds: new Set<ConnKind>(cfg.role === 'gateway' ? ['client', 'relay', 'ingress'] : ['relay']),
      keyOf: (kind, id) => {
        if (kind === 'relay') {
          const r = this.#view.relay(id)
          return r === undefined ? undefined : Buffer.from(r.identityKey, 'hex')
        }
        const i = this.#view.ingress(id)
        return i !== undefined && this.#serves(i) ? Buffer.from(i.identityKey, 'hex') : undefined
      },
      onOpen: c => this.#opened(c),
      onClose: c => this.#closed(c),
      onMessage: (c, m) => this.#router!.receive(c, m),
      onHandshakeFailed: kind => this.metrics.handshakeFailures.inc({ link: kind === 'relay' ? 'peer' : kind }),
      metrics: this.metrics,
      log: this.log
    })
    this.port = await this.#listener.start()

    this.#next = new NextLayer({
      crypto: this.#crypto,
      sphinx: this.#sphinx,
      rng: this.#rng,
      identity,
      limits: this.#cfg.limits,
      minRetryMs: this.#o.minRetryMs,
      maxRetryMs: this.#o.maxRetryMs,
      metrics: this.metrics,
      buildCover: async (n, id, key) => await this.#pool!.cover(n, id, key)
    })
    this.#next.sync(this.#view.layer(NetworkView.nextLayer(this.#myLayer)))
    if (this.#epochs !== null) {
      await this.#epochs.start({
        onKeys: async (live, retired) => {
          loaded += await this.#setKeys(live, retired)
        },
        onDocument: doc => this.#useDocument(doc)
      })
    }
    this.#loops = new Loops({
      sphinx: this.#sphinx,
      rng: this.#rng,
      myId: this.#keys.id,
      myLayer: this.#myLayer,
      myMixKey: () => this.#mixPublic.get(this.#epochs === null ? STATIC_EPOCH : this.#view.doc.epoch),
      doc: () => this.#view.doc,
      metrics: this.metrics
    })
    if (params.loopRatePerSec > 0) this.#scheduleLoop(params.loopRatePerSec)
    const refresh = (): void => {
      this.#loops?.sweep(this.#now())
      if (spool !== null && mailbox !== null) queueGauges(this.metrics, spool, mailbox, this.#now())
      this.metrics.networkAge.set(Math.max(0, (this.#now() - this.#view.doc.validFromMs) / 1000))
      const buffered = this.#listener?.bufferedByKind()
      if (buffered !== undefined) {
        let peer = buffered.relay
        peer += this.#next?.bufferedAmount ?? 0
        this.metrics.sendBuffer.set({ link: 'peer' }, peer)
        this.metrics.sendBuffer.set({ link: 'client' }, buffered.client)
        this.metrics.sendBuffer.set({ link: 'ingress' }, buffered.ingress)
      }
    }
    refresh()
    this.#sweepTimer = setInterval(this.health.guard('timer', refresh), 1000)
    this.#sweepTimer.unref()

    this.#applyLimits()
    this.#mixer.start()
    this.#ready = true
    this.log.info(
      {
        role: cfg.role,
        layer: this.#myLayer,
        epoch: this.#view.doc.epoch,
        listed: this.#listed,
        replayTagsLoaded: loaded,
        spooled: spool?.count ?? 0
      },
      'relay started'
    )
  }

  /**
   * Make `live` the mix keys in the workers, each with its replay filter (rebuilt from LevelDB),
   * and drop the filters of `retired` epochs (their stored tags are deleted with their keys, in
   * keys/keyring.ts). Returns the tags loaded.
   */
  async #setKeys(live: ReadonlyArray<{ epoch: number; key: MixKeyPair }>, retired: readonly number[]): Promise<number> {
    let loaded = 0
    for (const { epoch, key } of live) {
      this.#mixPublic.set(epoch, key.publicKey)
      if (this.#filters.has(epoch)) continue
      const f = this.#replay.filterFor(
        epoch,
        key.publicKey,
        this.#cfg.replay.capacity,
        this.#cfg.replay.falsePositiveRate
      )
      loaded += await this.#replay.load(epoch, f)
      this.#filters.set(epoch, f)
    }
    const handed = workerKeys(live)
    this.#pool!.setKeys(handed.keys, handed.epochs)
    for (const e of retired) {
      this.#filters.get(e)?.clear()
      this.#filters.delete(e)
      this.#mixPublic.delete(e)
    }
    this.metrics.mixKeysLive.set(live.length)
    this.#updateReplayFill()
    return loaded
  }

  #updateReplayFill(): void {
    let fill = 0
    for (const f of this.#filters.values()) fill = Math.max(fill, f.count / f.capacity)
    this.metrics.replayFill.set(fill)
  }

  #serves(i: IngressDescriptor): boolean {
    return servesIngress(this.#crypto, this.#keys.id, this.#cfg.ingressRoots, i, this.#now())
  }

  /** A new current document: route by it, follow its next layer, rebuild cover for the neighbours' new keys. */
  #useDocument(doc: NetworkDocument): void {
    this.#view = new NetworkView(doc)
    const me = this.#view.relay(this.#keys.id)
    this.#listed =
      me !== undefined &&
      me.role === this.#cfg.role &&
      me.layer === this.#myLayer &&
      me.mixKey === this.#mixPublic.get(doc.epoch)?.toString('hex')
    this.metrics.epoch.set(doc.epoch)
    this.metrics.networkAge.set(Math.max(0, (this.#now() - doc.validFromMs) / 1000))
    this.#next?.sync(this.#view.layer(NetworkView.nextLayer(this.#myLayer)))
    this.log.info({ epoch: doc.epoch, relays: doc.relays.length, listed: this.#listed }, 'network document in use')
  }

  #scheduleLoop(rate: number): void {
    this.#loopTimer = setTimeout(
      this.health.guard('loops', () => {
        if (this.#stopping === null) this.#scheduleLoop(rate)
        const l = this.#loops?.make(this.#now())
        if (l !== null && l !== undefined && this.#next!.has(l.to))
          this.#mixer?.stage({
            out: { kind: 'peer', to: l.to, frame: packetFrame(NETWORK_GEOMETRY, l.packet) },
            delayMs: 0
          })
      }),
      this.#loops!.nextGapMs(rate)
    )
    this.#loopTimer.unref()
  }

  #opened(c: Conn): void {
    this.metrics.connections.inc({ link: c.kind === 'relay' ? 'peer' : c.kind })
    this.log.debug({ link: c.kind === 'relay' ? 'peer' : c.kind }, 'connection opened')
    if (c.kind === 'ingress') this.#edge?.ingressUp(c.peerId!, c)
  }

  #closed(c: Conn): void {
    this.metrics.connections.dec({ link: c.kind === 'relay' ? 'peer' : c.kind })
    this.log.debug({ link: c.kind === 'relay' ? 'peer' : c.kind }, 'connection closed')
    if (c.kind === 'ingress') this.#edge?.ingressDown(c.peerId!, c)
  }

  /**
   * Graceful stop: refuse new connections and packets, let the running round finish (its commit
   * and sends), commit the replay tags of staged packets, close links, workers and the database.
   * Packets still pooled are dropped (documented in docs/OPERATIONS.md). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopping !== null) return await this.#stopping
    this.#stopping = (async () => {
      this.#ready = false
      clearTimeout(this.#loopTimer)
      clearInterval(this.#sweepTimer)
      await this.#epochs?.stop()
      this.#listener?.stopAccepting()
      await this.#mixer?.stop()
      if (this.#db !== null && this.#mixer !== null) await this.#mixer.flushTags().catch(() => {})
      await this.#next?.close()
      await this.#listener?.close()
      await this.#pool?.close()
      await this.#ops?.close()
      await this.#db?.close()
      this.log.info('relay stopped')
    })()
    return await this.#stopping
  }
}
