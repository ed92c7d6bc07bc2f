/**
 * A directory authority (docs/PROTOCOL.md §18.1). It accepts relay and ingress descriptors over HTTP from
 * the relays and homeservers its operator admitted (daemon/authority/admission.ts; anyone else is refused
 * before a signature is checked, and never stored), shares each new one with the other authorities, builds each epoch's document deterministically
 * from the descriptors that verify and arrived before that epoch's publish deadline
 * (mix/directory/epoch.ts), signs it, and serves it with every peer signature that verifies on the same
 * bytes. A node takes a document signed by a majority of the authorities it trusts
 * (chooseDocument). A document is served from its deadline on, when it can no longer change.
 *   POST /v1/descriptor          a relay's SignedDescriptor or an ingress's (JSON, at most 16 KiB)
 *   GET  /v1/document/{epoch}    the SignedDocument of the current or next epoch ('current' too)
 *   GET  /v1/signature/{epoch}   this authority's signature on its build of that epoch
 *   GET  /v1/schedule            the epoch schedule, signed (for nodes that hold no document yet)
 * A reload (SIGHUP, reconfigureAuthority) applies the POST limits and the peers; what decides the
 * documents (network, epochs, mixing, keys, admission file) needs a restart.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import {
  buildEpochDocument,
  type CryptoSuite,
  DIRECTORY_LABEL,
  documentBytes,
  type EpochSchedule,
  epochAt,
  epochStart,
  type GeometryParams,
  type IngressDescriptor,
  isIngressDescriptor,
  MAX_DOCUMENT_BYTES,
  type MixingParams,
  missingKeyEpoch,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  newestIngresses,
  publishDeadline,
  RateLimiter,
  type SignedDescriptor,
  type SignedDocument,
  type SignedIngressDescriptor,
  signSchedule,
  verifyDescriptorSignature,
  verifyIngressBinding,
  verifyIngressDescriptor
} from '../../mix/index.ts'
import type { Logger } from '../io/index.ts'
import {
  errorCode,
  type HttpListener,
  type JsonAnswer,
  listenHttp,
  matchRoute,
  type Route,
  readBody,
  requestPath,
  serveJson,
  writeFileAtomic
} from '../io/index.ts'
import { type Admission, AdmissionFile, AdmissionIndex } from './admission.ts'
import { type AuthorityConfig, authorityKey } from './config.ts'

type Peers = AuthorityOptions['peers']

import { Held } from './held.ts'
import { AuthorityMetrics, REFUSALS, type Refusal } from './metrics.ts'

export { AuthorityMetrics, REFUSALS, type Refusal }

/** POSTs allowed, per source address and in total. */
export interface PostLimits {
  /** @default 50 */
  readonly perSourcePerSecond?: number
  /** @default 500 */
  readonly perSecond?: number
}

export interface AuthorityOptions {
  readonly crypto: CryptoSuite
  readonly signing: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly network: string
  readonly schedule: EpochSchedule
  readonly graceMs: number
  readonly geometry: GeometryParams
  readonly mixing: MixingParams
  readonly ingresses: readonly IngressDescriptor[]
  /**
   * The admitted relays and homeservers, or the file that holds them (re-read within a second of
   * a change, so that `sealmix authority admit|remove` takes effect without a restart).
   */
  readonly admission: Admission | { readonly file: string }
  readonly limits?: PostLimits
  readonly log?: Logger
  /** The other authorities: base URL and signing key (hex). */
  readonly peers: ReadonlyArray<{ readonly url: string; readonly publicKey: string }>
  readonly host: string
  readonly port: number
  readonly now?: () => number
  /** Descriptors held at once, relays and ingresses each (oldest dropped first). @default 30000 */
  readonly maxDescriptors?: number
  /**
   * Keep the held descriptors, with the times they arrived (which decide the documents), in this
   * file, so that a restarted authority builds the same documents as before.
   */
  readonly stateFile?: string
}

const BODY_LIMIT = 16 * 1024
/** Descriptors kept per relay or ingress: new ones come once an epoch, and a document needs the one before its deadline. */
const PER_IDENTITY = 3
/**
 * Ingresses listed per server. A server's own root key can bind any number of ingresses; this
 * keeps one admitted server from growing every document (a document over MAX_DOCUMENT_BYTES is
 * refused by every node, which would freeze the network).
 */
export const INGRESSES_PER_SERVER = 8
/** Source addresses with a rate-limit bucket at once (the least recently seen goes first). */
const SOURCES = 4096

/** The options of the authority that a config file describes (what `sealmix authority` runs). */
export function authorityOptions(c: CryptoSuite, cfg: AuthorityConfig, log?: Logger): AuthorityOptions {
  return {
    crypto: c,
    signing: authorityKey(c, cfg.signingKeyFile),
    network: cfg.network,
    schedule: { genesisMs: cfg.epoch.genesisMs, epochMs: cfg.epoch.epochMs },
    graceMs: cfg.epoch.graceMs,
    geometry: NETWORK_GEOMETRY,
    mixing: cfg.mixing as MixingParams,
    ingresses: cfg.ingresses,
    peers: cfg.peers,
    host: cfg.listen.host,
    port: cfg.listen.port,
    stateFile: cfg.stateFile,
    admission: { file: cfg.admissionFile },
    limits: cfg.limits,
    ...(log === undefined ? {} : { log })
  }
}

export class Authority {
  readonly #o: AuthorityOptions
  readonly #now: () => number
  /** Verified descriptors with the time each arrived; at most PER_IDENTITY per id. */
  readonly #held: Held<SignedDescriptor>
  readonly #ingressHeld: Held<SignedIngressDescriptor>
  /** Signed documents by epoch; refreshed while some peer signature is missing. */
  readonly #cache = new Map<number, { signed: SignedDocument; at: number }>()
  /** Built documents by epoch, with the state version they were built from. */
  readonly #builds = new Map<number, { version: number; doc: NetworkDocument }>()
  /** Bumped whenever what a document is built from changes (held descriptors, admission). */
  #version = 0
  #admission: AdmissionIndex
  readonly #admissionFile: AdmissionFile | null
  #perSource!: RateLimiter
  #global!: RateLimiter
  /** The other authorities in force (a reload may change them). */
  #peers: Peers
  /** Refusals since the last log line about them, by reason (logged at most every 10 s). */
  readonly #unlogged = new Map<Refusal, number>()
  #lastRefusalLog = 0
  #tick: NodeJS.Timeout | undefined
  #server: HttpListener | null = null
  readonly metrics = new AuthorityMetrics()
  port = 0

  constructor(o: AuthorityOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
    this.#held = new Held(PER_IDENTITY, o.maxDescriptors ?? 30_000)
    this.#ingressHeld = new Held(PER_IDENTITY, o.maxDescriptors ?? 30_000)
    this.#admissionFile = 'file' in o.admission ? new AdmissionFile(o.admission.file) : null
    this.#admission = new AdmissionIndex(this.#admissionFile?.changed() ?? (o.admission as Admission))
    this.setLimits(o.limits ?? {})
    this.#peers = o.peers
    this.metrics.admitted.set(this.#admission.relays)
  }

  /** POST limits from now on (a reload): new buckets, so a source may send one burst more at most, once per reload. */
  setLimits(l: PostLimits): void {
    const perSource = l.perSourcePerSecond ?? 50
    const all = l.perSecond ?? 500
    this.#perSource = new RateLimiter(perSource * 60, SOURCES, perSource * 2)
    this.#global = new RateLimiter(all * 60, 1, all * 2)
  }

  /**
   * The other authorities from now on (a reload): descriptors are shared with them and their
   * signatures collected. A document's bytes do not depend on them, only the signatures served
   * with it, so the signed documents held are collected again.
   */
  setPeers(peers: Peers): void {
    this.#peers = peers
    this.#cache.clear()
  }

  get signer(): string {
    return Buffer.from(this.#o.signing.publicKey).toString('hex')
  }
  get descriptors(): number {
    return this.#held.size + this.#ingressHeld.size
  }
  /** Relay ids held (for tests: an unadmitted identity never appears here). */
  get heldRelayIds(): string[] {
    return this.#held.ids
  }

  /** Keep a relay descriptor that verifies for the current or the next epoch, or an ingress descriptor that verifies, from an admitted identity. */
  accept(raw: unknown): 'new' | 'known' | Refusal {
    const r = this.#accept(raw, this.#now())
    if (r === 'new') {
      this.#saveSoon()
      this.metrics.accepted.inc()
      this.metrics.held.set(this.descriptors)
    } else if (r !== 'known') this.#refused(r)
    return r
  }

  #refused(r: Refusal): void {
    this.metrics.refused.inc({ reason: r })
    this.#unlogged.set(r, (this.#unlogged.get(r) ?? 0) + 1)
    const now = this.#now()
    if (now - this.#lastRefusalLog < 10_000) return
    // One line for many refusals: a flood must not become a flood of log lines. No address, no id.
    this.#lastRefusalLog = now
    this.#o.log?.info({ event: 'descriptors_refused', ...Object.fromEntries(this.#unlogged) }, 'descriptors refused')
    this.#unlogged.clear()
  }

  #accept(raw: unknown, now: number): 'new' | 'known' | Refusal {
    const e = epochAt(this.#o.schedule, now)
    const d = (raw as { descriptor?: { identityKey?: unknown; serverName?: unknown } } | null)?.descriptor
    if (isIngressDescriptor(raw)) {
      // Cheap checks first: an unadmitted server costs a lookup, not a signature check.
      if (typeof d?.serverName !== 'string') return 'malformed'
      const roots = this.#admission.server(d.serverName)
      if (roots === undefined) return 'server_not_admitted'
      const v = verifyIngressDescriptor(this.#o.crypto, raw)
      if (!v.ok) return v.code === 'DESC_MALFORMED' ? 'malformed' : 'bad_signature'
      // The homeserver's own word that this ingress speaks for it: anyone can sign a descriptor.
      // Checked here once; again only when the admission (the server's root keys) changes.
      if (!verifyIngressBinding(this.#o.crypto, v.value.descriptor, roots, now).ok) return 'unbound'
      const id = v.value.descriptor.id
      const ids = new Set(
        [...this.#ingressHeld.values()]
          .filter(h => h.d.descriptor.serverName === d.serverName)
          .map(h => h.d.descriptor.id)
      )
      if (!ids.has(id) && ids.size >= INGRESSES_PER_SERVER) return 'server_full'
      return this.#take(this.#ingressHeld.add(v.value, now))
    }
    if (typeof d?.identityKey !== 'string') return 'malformed'
    const admitted = this.#admission.relay(d.identityKey)
    if (admitted === undefined) return 'not_admitted'
    const v = verifyDescriptorSignature(this.#o.crypto, raw)
    if (!v.ok) return v.code === 'DESC_BAD_SIGNATURE' || v.code === 'DESC_ID_MISMATCH' ? 'bad_signature' : 'malformed'
    if (v.value.descriptor.role !== admitted.role || v.value.descriptor.layer !== admitted.layer) return 'wrong_role'
    if (missingKeyEpoch(v.value, e) !== null && missingKeyEpoch(v.value, e + 1) !== null) return 'no_key_for_epoch'
    return this.#take(this.#held.add(v.value, now))
  }

  #take(r: 'new' | 'known'): 'new' | 'known' {
    if (r === 'new') this.#version++
    return r
  }

  /**
   * Once a second: re-read the admission file if it changed (a bad file keeps the admission in
   * force and says why), and drop what can no longer be listed: descriptors whose keys have all
   * expired, and those of identities or servers no longer admitted. The state file shrinks with it.
   */
  maintain(): void {
    const o = this.#o
    try {
      const a = this.#admissionFile?.changed()
      if (a !== null && a !== undefined) {
        this.#admission = new AdmissionIndex(a)
        this.#version++
        // Root keys may have changed: the bindings held are checked again, once, against the new ones (expiry aside: below).
        const dropped = this.#ingressHeld.prune(h => {
          const roots = this.#admission.server(h.d.descriptor.serverName)
          return roots === undefined || !verifyIngressBinding(o.crypto, h.d.descriptor, roots, 0).ok
        })
        if (dropped > 0) this.#saveSoon()
        this.metrics.admitted.set(this.#admission.relays)
        o.log?.info(
          { event: 'admission_loaded', relays: a.relays.length, servers: a.servers.length },
          'admission file loaded'
        )
      }
    } catch (err) {
      o.log?.error(
        { event: 'admission_invalid', err: (err as Error).message },
        'the admission file is invalid; the previous admission stays in force'
      )
    }
    const e = epochAt(o.schedule, this.#now())
    this.metrics.epoch.set(e)
    const dropped =
      this.#held.prune(h => !this.#listable(h.d) || Math.max(...h.d.descriptor.mixKeys.map(m => m.epoch)) < e) +
      this.#ingressHeld.prune(h => !this.#bound(h.d.descriptor, this.#now()))
    if (dropped > 0) {
      this.#version++
      this.#saveSoon()
    }
    this.metrics.held.set(this.descriptors)
  }

  /** Whether a posted body names an admitted relay identity or server (a lookup; nothing is verified). */
  #admitted(raw: unknown): boolean {
    const d = (raw as { descriptor?: { identityKey?: unknown; serverName?: unknown } } | null)?.descriptor
    if (isIngressDescriptor(raw))
      return typeof d?.serverName === 'string' && this.#admission.server(d.serverName) !== undefined
    return typeof d?.identityKey === 'string' && this.#admission.relay(d.identityKey) !== undefined
  }

  /** A relay descriptor of an identity admitted with this role and layer. */
  #listable(d: SignedDescriptor): boolean {
    const a = this.#admission.relay(d.descriptor.identityKey)
    return a !== undefined && a.role === d.descriptor.role && a.layer === d.descriptor.layer
  }

  /** A held ingress (its binding verified on arrival, or at the last admission change) of an admitted server, its binding unexpired at `atMs`. */
  #bound(d: IngressDescriptor, atMs: number): boolean {
    return this.#admission.server(d.serverName) !== undefined && d.binding.notAfterMs >= atMs
  }

  /** The document of `epoch` from what arrived before its deadline (identical on every authority that received the same). */
  build(epoch: number): NetworkDocument {
    const hit = this.#builds.get(epoch)
    if (hit !== undefined && hit.version === this.#version) return hit.doc
    const o = this.#o
    const end = this.metrics.build.startTimer()
    const deadline = publishDeadline(o.schedule, epoch)
    const relays = [...this.#held.values()].filter(h => h.at < deadline && this.#listable(h.d)).map(h => h.d)
    // Bound for the whole epoch by a root key its server is admitted with.
    const epochEnd = epochStart(o.schedule, epoch) + o.schedule.epochMs
    const held = [...this.#ingressHeld.values()]
      .filter(h => h.at < deadline && this.#bound(h.d.descriptor, epochEnd))
      .map(h => h.d)
    const ingresses = [
      ...o.ingresses.filter(i => !held.some(s => s.descriptor.id === i.id)),
      ...newestIngresses(held, INGRESSES_PER_SERVER)
    ]
    // Verified once on arrival: the build checks only each descriptor's keys for the epoch.
    const doc = buildEpochDocument(o.crypto, {
      network: o.network,
      epoch,
      schedule: o.schedule,
      graceMs: o.graceMs,
      geometry: o.geometry,
      mixing: o.mixing,
      ingresses,
      descriptors: relays,
      verified: true
    })
    end()
    const bytes = documentBytes(doc).length
    this.metrics.documentBytes.set(bytes)
    if (bytes > MAX_DOCUMENT_BYTES)
      o.log?.error(
        { event: 'document_too_large', bytes, relays: doc.relays.length, ingresses: doc.ingresses.length },
        'the document is larger than nodes accept: admit fewer relays or servers'
      )
    this.#builds.set(epoch, { version: this.#version, doc })
    for (const k of this.#builds.keys()) if (k < epoch - 1) this.#builds.delete(k)
    return doc
  }

  /** Current or next epoch, and only once its deadline has passed. */
  servable(epoch: number): boolean {
    const now = this.#now()
    const e = epochAt(this.#o.schedule, now)
    return (epoch === e || epoch === e + 1) && now >= publishDeadline(this.#o.schedule, epoch)
  }

  async #signed(epoch: number): Promise<SignedDocument> {
    const hit = this.#cache.get(epoch)
    if (hit !== undefined && (hit.signed.signatures.length === this.#peers.length + 1 || this.#now() - hit.at < 1000))
      return hit.signed
    const doc = this.build(epoch)
    const signed = {
      document: doc,
      signatures: [{ signer: this.signer, signature: this.#sign(doc) }, ...(await this.#peerSignatures(epoch, doc))]
    }
    this.#cache.set(epoch, { signed, at: this.#now() })
    for (const k of this.#cache.keys()) if (k < epoch - 1) this.#cache.delete(k)
    return signed
  }

  #sign(doc: NetworkDocument): string {
    return Buffer.from(
      this.#o.crypto.signDetached(Buffer.concat([DIRECTORY_LABEL, documentBytes(doc)]), this.#o.signing.secretKey)
    ).toString('hex')
  }

  async #peerSignatures(epoch: number, doc: NetworkDocument): Promise<Array<{ signer: string; signature: string }>> {
    const msg = Buffer.concat([DIRECTORY_LABEL, documentBytes(doc)])
    const got = await Promise.all(
      this.#peers.map(async p => {
        try {
          const r = await fetch(`${p.url}/v1/signature/${epoch}`, { signal: AbortSignal.timeout(2000) })
          const j = (await r.json()) as { signer?: unknown; signature?: unknown }
          if (j.signer !== p.publicKey || typeof j.signature !== 'string' || !/^[0-9a-f]{128}$/.test(j.signature))
            return null
          // Only a signature on exactly our bytes counts; a peer that built something else is left out.
          return this.#o.crypto.verifyDetached(Buffer.from(j.signature, 'hex'), msg, Buffer.from(p.publicKey, 'hex'))
            ? { signer: p.publicKey, signature: j.signature }
            : null
        } catch {
          return null
        }
      })
    )
    return got.filter((x): x is { signer: string; signature: string } => x !== null)
  }

  #share(raw: string): void {
    for (const p of this.#peers) {
      void fetch(`${p.url}/v1/descriptor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sealmix-shared': '1' },
        body: raw,
        signal: AbortSignal.timeout(2000)
      }).catch(() => {})
    }
  }

  #saveTimer: NodeJS.Timeout | undefined

  #saveSoon(): void {
    if (this.#o.stateFile === undefined || this.#saveTimer !== undefined) return
    this.#saveTimer = setTimeout(() => this.#save(), 100)
  }

  /** Write the state file atomically (synced, renamed over it); on a full disk, log it and try again in a second (the descriptors stay held in memory). */
  #save(): void {
    clearTimeout(this.#saveTimer)
    this.#saveTimer = undefined
    const f = this.#o.stateFile
    if (f === undefined) return
    const state = { relays: [...this.#held.values()], ingresses: [...this.#ingressHeld.values()] }
    try {
      writeFileAtomic(f, JSON.stringify(state))
    } catch (e) {
      this.#o.log?.error(
        { event: 'state_save_failed', code: errorCode(e) },
        "cannot write the authority's state file; trying again"
      )
      this.#saveTimer = setTimeout(() => this.#save(), 1000)
      this.#saveTimer.unref()
    }
  }

  /** Take back what the state file holds, each descriptor checked again as when it arrived. */
  #restore(): void {
    const f = this.#o.stateFile
    if (f === undefined || !existsSync(f)) return
    let state: { relays?: unknown; ingresses?: unknown }
    try {
      state = JSON.parse(readFileSync(f, 'utf8')) as typeof state
    } catch {
      return
    }
    for (const list of [state.relays, state.ingresses]) {
      if (!Array.isArray(list)) continue
      // Checked again as on arrival, admission included: what is no longer admitted is not taken back.
      for (const h of list as Array<{ d?: unknown; at?: unknown }>)
        if (typeof h?.at === 'number' && Number.isFinite(h.at)) this.#accept(h.d, h.at)
    }
  }

  async start(): Promise<void> {
    this.#restore()
    this.maintain()
    this.#tick = setInterval(() => this.maintain(), 1000)
    this.#tick.unref()
    // A connection that sends slowly is closed 10 s into its request (its body is cut off at the
    // same deadline, BODY_TIMEOUT_MS); the other bounds are every listener's (listenHttp).
    this.#server = await listenHttp(
      { host: this.#o.host, port: this.#o.port, requestTimeoutMs: 10_000, section: 'listen' },
      serveJson(
        async req => await this.#route(req),
        { status: 500, body: { error: 'internal' } },
        // Documents and signatures are public: a browser client fetches them from its own origin.
        { methods: ['GET'], paths: /^\/v1\/(schedule$|document\/|signature\/)/ }
      )
    )
    this.port = this.#server.port
  }

  /** The routes of the API (the file's head lists them); another method on a served path is not found either. */
  readonly #routes: ReadonlyArray<
    Route<(req: IncomingMessage, params: readonly string[]) => Promise<JsonAnswer | null>>
  > = [
    { method: 'POST', path: '/v1/descriptor', handler: async req => await this.#postDescriptor(req) },
    { method: 'GET', path: '/v1/schedule', handler: async () => this.#signedSchedule() },
    {
      method: 'GET',
      path: /^\/v1\/(document|signature)\/(\d+|current)$/,
      handler: async (_req, [what, epoch]) => await this.#document(what!, epoch!)
    }
  ]

  async #route(req: IncomingMessage): Promise<JsonAnswer | null> {
    const r = matchRoute(this.#routes, req.method, requestPath(req))
    if (r.kind !== 'found') return { status: 404, body: { error: 'not found' } }
    return await r.handler(req, r.params)
  }

  async #postDescriptor(req: IncomingMessage): Promise<JsonAnswer | null> {
    const now = this.#now()
    const tooMany = (): JsonAnswer => {
      this.#refused('rate_limited')
      return {
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: 'too many descriptors; try again later', reason: 'rate_limited' }
      }
    }
    // Per source before reading the body: one source's flood costs a bucket lookup per request.
    if (!this.#perSource.take(req.socket.remoteAddress ?? '', now)) {
      req.resume()
      return tooMany()
    }
    const body = await readBody(req, BODY_LIMIT)
    if (body.kind === 'too_large') {
      this.#refused('too_large')
      return { status: 413, body: { error: 'too large', reason: 'too_large' } }
    }
    // Cut off at its deadline, or the client went away: there is no one to answer.
    if (body.kind !== 'body') return null
    let raw: unknown
    try {
      raw = JSON.parse(body.text)
    } catch {
      this.#refused('malformed')
      return { status: 400, body: { error: 'not JSON', reason: 'malformed' } }
    }
    // The total budget is charged only to what nobody admitted, so junk from many sources cannot crowd out the admitted relays.
    if (!this.#admitted(raw) && !this.#global.take('', now)) return tooMany()
    const r = this.accept(raw)
    // The reason is a closed-set word: it tells an operator's relay why, and nothing about others.
    if (r !== 'new' && r !== 'known')
      return {
        status:
          r === 'not_admitted' ||
          r === 'server_not_admitted' ||
          r === 'wrong_role' ||
          r === 'unbound' ||
          r === 'server_full'
            ? 403
            : 400,
        body: { error: 'descriptor refused', reason: r }
      }
    // Share what is new with the other authorities (they do not share it again).
    if (r === 'new' && req.headers['x-sealmix-shared'] === undefined) this.#share(body.text)
    return { status: 200, body: { accepted: r === 'new' } }
  }

  #signedSchedule(): JsonAnswer {
    const o = this.#o
    return {
      status: 200,
      body: signSchedule(
        o.crypto,
        { network: o.network, genesisMs: o.schedule.genesisMs, epochMs: o.schedule.epochMs, graceMs: o.graceMs },
        o.signing
      )
    }
  }

  async #document(what: string, at: string): Promise<JsonAnswer> {
    const epoch = at === 'current' ? epochAt(this.#o.schedule, this.#now()) : Number(at)
    if (!this.servable(epoch))
      return {
        status: 404,
        body: { error: 'only the current and the next epoch are served, each from its publish deadline on' }
      }
    if (what === 'signature')
      return { status: 200, body: { signer: this.signer, signature: this.#sign(this.build(epoch)) } }
    return { status: 200, body: await this.#signed(epoch) }
  }

  async stop(): Promise<void> {
    clearInterval(this.#tick)
    if (this.#saveTimer !== undefined) this.#save()
    await this.#server?.close()
    this.#server = null
  }
}

/**
 * A reload (SIGHUP) of a running authority: from `next`, a config already validated, apply the
 * POST limits and the peers, and return the config now in force (`cur` with those and the log
 * level taken from `next`); every other key keeps its running value. What the documents are built
 * from (network, epochs, mixing, ingresses, keys, admission and state files) is fixed for the run:
 * a change there would make this authority's next build differ from what its peers sign.
 */
export function reconfigureAuthority(a: Authority, cur: AuthorityConfig, next: AuthorityConfig): AuthorityConfig {
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y)
  if (!same(cur.limits, next.limits)) a.setLimits(next.limits)
  if (!same(cur.peers, next.peers)) a.setPeers(next.peers)
  return { ...cur, limits: next.limits, peers: next.peers, log: next.log }
}
