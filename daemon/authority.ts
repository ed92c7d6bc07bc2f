/**
 * A directory authority (DESIGN.md §6). It accepts relay and ingress descriptors over HTTP,
 * shares each new one with the other authorities, builds each epoch's document deterministically
 * from the descriptors that verify and arrived before that epoch's publish deadline
 * (mix/epoch.ts), signs it, and serves it with every peer signature that verifies on the same
 * bytes. A node takes a document signed by a majority of the authorities it trusts
 * (chooseDocument). A document is served from its deadline on, when it can no longer change.
 *   POST /v1/descriptor          a relay's SignedDescriptor or an ingress's (JSON, at most 16 KiB)
 *   GET  /v1/document/{epoch}    the SignedDocument of the current or next epoch ('current' too)
 *   GET  /v1/signature/{epoch}   this authority's signature on its build of that epoch
 *   GET  /v1/schedule            the epoch schedule, signed (for nodes that hold no document yet)
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildEpochDocument, DIRECTORY_LABEL, documentBytes, epochAt, isIngressDescriptor, newestIngresses, publishDeadline, signSchedule, verifyDescriptor, verifyIngressDescriptor,
  type CryptoSuite, type EpochSchedule, type GeometryParams, type IngressDescriptor, type MixingParams, type NetworkDocument, type SignedDescriptor, type SignedDocument, type SignedIngressDescriptor
} from '../mix/index.ts'

export interface AuthorityOptions {
  readonly crypto: CryptoSuite
  readonly signing: { readonly publicKey: Uint8Array, readonly secretKey: Uint8Array }
  readonly network: string
  readonly schedule: EpochSchedule
  readonly graceMs: number
  readonly geometry: GeometryParams
  readonly mixing: MixingParams
  readonly ingresses: readonly IngressDescriptor[]
  /** The other authorities: base URL and signing key (hex). */
  readonly peers: ReadonlyArray<{ readonly url: string, readonly publicKey: string }>
  readonly host: string
  readonly port: number
  readonly now?: () => number
  /** Descriptors held at once (oldest dropped first). */
  readonly maxDescriptors?: number
  /**
   * Keep the held descriptors, with the times they arrived (which decide the documents), in this
   * file, so that a restarted authority builds the same documents as before.
   */
  readonly stateFile?: string
}

const BODY_LIMIT = 16 * 1024

async function body (req: IncomingMessage): Promise<string | null> {
  let n = 0
  const parts: Buffer[] = []
  for await (const d of req) { n += (d as Buffer).length; if (n > BODY_LIMIT) return null; parts.push(d as Buffer) }
  return Buffer.concat(parts).toString('utf8')
}

export class Authority {
  readonly #o: AuthorityOptions
  readonly #now: () => number
  /** Descriptors by id and signature, in arrival order, with the time each arrived. */
  readonly #held = new Map<string, { d: SignedDescriptor, at: number }>()
  readonly #ingressHeld = new Map<string, { d: SignedIngressDescriptor, at: number }>()
  /** Signed documents by epoch; refreshed while some peer signature is missing. */
  readonly #cache = new Map<number, { signed: SignedDocument, at: number }>()
  #server: Server | null = null
  port = 0

  constructor (o: AuthorityOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
  }

  get signer (): string { return Buffer.from(this.#o.signing.publicKey).toString('hex') }
  get descriptors (): number { return this.#held.size + this.#ingressHeld.size }

  /** Keep a relay descriptor that verifies for the current or the next epoch, or an ingress descriptor that verifies. */
  accept (raw: unknown): 'new' | 'known' | 'refused' {
    const r = this.#accept(raw, this.#now())
    if (r === 'new') this.#saveSoon()
    return r
  }

  #accept (raw: unknown, now: number): 'new' | 'known' | 'refused' {
    const e = epochAt(this.#o.schedule, this.#now())
    const cap = this.#o.maxDescriptors ?? 10_000
    if (isIngressDescriptor(raw)) {
      const v = verifyIngressDescriptor(this.#o.crypto, raw)
      if (!v.ok) return 'refused'
      return remember(this.#ingressHeld, `${v.value.descriptor.id}:${v.value.signature}`, { d: v.value, at: now }, cap)
    }
    const v = [e, e + 1].map(x => verifyDescriptor(this.#o.crypto, raw, x)).find(r => r.ok)
    if (v === undefined || !v.ok) return 'refused'
    // Descriptors whose keys have all expired are of no more use.
    for (const [k, h] of this.#held) if (Math.max(...h.d.descriptor.mixKeys.map(m => m.epoch)) < e) this.#held.delete(k)
    return remember(this.#held, `${v.value.descriptor.id}:${v.value.signature}`, { d: v.value, at: now }, cap)
  }

  /** The document of `epoch` from what arrived before its deadline (identical on every authority that received the same). */
  build (epoch: number): NetworkDocument {
    const o = this.#o
    const deadline = publishDeadline(o.schedule, epoch)
    const before = <T>(m: Map<string, { d: T, at: number }>): T[] => [...m.values()].filter(h => h.at < deadline).map(h => h.d)
    const ingresses = [...o.ingresses.filter(i => !before(this.#ingressHeld).some(s => s.descriptor.id === i.id)), ...newestIngresses(before(this.#ingressHeld))]
    return buildEpochDocument(o.crypto, { network: o.network, epoch, schedule: o.schedule, graceMs: o.graceMs, geometry: o.geometry, mixing: o.mixing, ingresses, descriptors: before(this.#held) })
  }

  /** Current or next epoch, and only once its deadline has passed. */
  servable (epoch: number): boolean {
    const now = this.#now()
    const e = epochAt(this.#o.schedule, now)
    return (epoch === e || epoch === e + 1) && now >= publishDeadline(this.#o.schedule, epoch)
  }

  async #signed (epoch: number): Promise<SignedDocument> {
    const hit = this.#cache.get(epoch)
    if (hit !== undefined && (hit.signed.signatures.length === this.#o.peers.length + 1 || this.#now() - hit.at < 1000)) return hit.signed
    const doc = this.build(epoch)
    const signed = { document: doc, signatures: [{ signer: this.signer, signature: this.#sign(doc) }, ...await this.#peerSignatures(epoch, doc)] }
    this.#cache.set(epoch, { signed, at: this.#now() })
    for (const k of this.#cache.keys()) if (k < epoch - 1) this.#cache.delete(k)
    return signed
  }

  #sign (doc: NetworkDocument): string {
    return Buffer.from(this.#o.crypto.signDetached(Buffer.concat([DIRECTORY_LABEL, documentBytes(doc)]), this.#o.signing.secretKey)).toString('hex')
  }

  async #peerSignatures (epoch: number, doc: NetworkDocument): Promise<Array<{ signer: string, signature: string }>> {
    const msg = Buffer.concat([DIRECTORY_LABEL, documentBytes(doc)])
    const got = await Promise.all(this.#o.peers.map(async p => {
      try {
        const r = await fetch(`${p.url}/v1/signature/${epoch}`, { signal: AbortSignal.timeout(2000) })
        const j = await r.json() as { signer?: unknown, signature?: unknown }
        if (j.signer !== p.publicKey || typeof j.signature !== 'string' || !/^[0-9a-f]{128}$/.test(j.signature)) return null
        // Only a signature on exactly our bytes counts; a peer that built something else is left out.
        return this.#o.crypto.verifyDetached(Buffer.from(j.signature, 'hex'), msg, Buffer.from(p.publicKey, 'hex')) ? { signer: p.publicKey, signature: j.signature } : null
      } catch { return null }
    }))
    return got.filter((x): x is { signer: string, signature: string } => x !== null)
  }

  #share (raw: string): void {
    for (const p of this.#o.peers) {
      void fetch(`${p.url}/v1/descriptor`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sealmix-shared': '1' }, body: raw, signal: AbortSignal.timeout(2000) }).catch(() => {})
    }
  }

  #saveTimer: NodeJS.Timeout | undefined

  #saveSoon (): void {
    if (this.#o.stateFile === undefined || this.#saveTimer !== undefined) return
    this.#saveTimer = setTimeout(() => this.#save(), 100)
  }

  /** Write the state file atomically (a temporary file renamed over it). */
  #save (): void {
    clearTimeout(this.#saveTimer)
    this.#saveTimer = undefined
    const f = this.#o.stateFile
    if (f === undefined) return
    const state = { relays: [...this.#held.values()], ingresses: [...this.#ingressHeld.values()] }
    writeFileSync(`${f}.tmp`, JSON.stringify(state), { mode: 0o600 })
    renameSync(`${f}.tmp`, f)
  }

  /** Take back what the state file holds, each descriptor checked again as when it arrived. */
  #restore (): void {
    const f = this.#o.stateFile
    if (f === undefined || !existsSync(f)) return
    let state: { relays?: unknown, ingresses?: unknown }
    try { state = JSON.parse(readFileSync(f, 'utf8')) as typeof state } catch { return }
    for (const list of [state.relays, state.ingresses]) {
      if (!Array.isArray(list)) continue
      for (const h of list as Array<{ d?: unknown, at?: unknown }>) if (typeof h?.at === 'number' && Number.isFinite(h.at)) this.#accept(h.d, h.at)
    }
  }

  async start (): Promise<void> {
    this.#restore()
    const s = createServer((req, res) => {
      const json = (status: number, v: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v)) }
      void (async () => {
        const path = (req.url ?? '/').split('?')[0]!
        if (req.method === 'POST' && path === '/v1/descriptor') {
          const text = await body(req)
          if (text === null) { json(413, { error: 'too large' }); return }
          let raw: unknown
          try { raw = JSON.parse(text) } catch { json(400, { error: 'not JSON' }); return }
          const r = this.accept(raw)
          if (r === 'refused') { json(400, { error: 'descriptor refused' }); return }
          // Share what is new with the other authorities (they do not share it again).
          if (r === 'new' && req.headers['x-sealmix-shared'] === undefined) this.#share(text)
          json(200, { accepted: r === 'new' })
          return
        }
        if (req.method === 'GET' && path === '/v1/schedule') {
          const o = this.#o
          json(200, signSchedule(o.crypto, { network: o.network, genesisMs: o.schedule.genesisMs, epochMs: o.schedule.epochMs, graceMs: o.graceMs }, o.signing))
          return
        }
        const m = /^\/v1\/(document|signature)\/(\d+|current)$/.exec(path)
        if (req.method === 'GET' && m !== null) {
          const epoch = m[2] === 'current' ? epochAt(this.#o.schedule, this.#now()) : Number(m[2])
          if (!this.servable(epoch)) { json(404, { error: 'only the current and the next epoch are served, each from its publish deadline on' }); return }
          if (m[1] === 'signature') { const doc = this.build(epoch); json(200, { signer: this.signer, signature: this.#sign(doc) }); return }
          json(200, await this.#signed(epoch))
          return
        }
        json(404, { error: 'not found' })
      })().catch(() => json(500, { error: 'internal' }))
    })
    this.#server = s
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(this.#o.port, this.#o.host, () => resolve()) })
    this.port = (s.address() as AddressInfo).port
  }

  async stop (): Promise<void> {
    if (this.#saveTimer !== undefined) this.#save()
    const s = this.#server
    if (s === null) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => resolve()))
  }
}

function remember<T> (m: Map<string, T>, key: string, v: T, cap: number): 'new' | 'known' {
  if (m.has(key)) return 'known'
  m.set(key, v)
  while (m.size > cap) m.delete(m.keys().next().value as string)
  return 'new'
}
