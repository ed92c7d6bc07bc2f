/**
 * A directory authority (DESIGN.md §6; groundwork for the directory issue). It accepts relay
 * descriptors over HTTP, shares each new one with the other authorities, builds each epoch's
 * document deterministically from the descriptors that verify (mix/epoch.ts), signs it, and
 * serves it with every peer signature that verifies on the same bytes. A client takes a document
 * signed by a majority of the authorities it trusts (chooseDocument).
 *   POST /v1/descriptor          a SignedDescriptor (JSON, at most 16 KiB)
 *   GET  /v1/document/{epoch}    the SignedDocument of the current or next epoch
 *   GET  /v1/signature/{epoch}   this authority's signature on its build of that epoch
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildEpochDocument, DIRECTORY_LABEL, documentBytes, epochAt, verifyDescriptor, type CryptoSuite, type EpochSchedule, type GeometryParams, type IngressDescriptor, type MixingParams, type NetworkDocument, type SignedDescriptor } from '../mix/index.ts'

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
  /** Descriptors by relay id and signature, in arrival order. */
  readonly #held = new Map<string, SignedDescriptor>()
  #server: Server | null = null
  port = 0

  constructor (o: AuthorityOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
  }

  get signer (): string { return Buffer.from(this.#o.signing.publicKey).toString('hex') }
  get descriptors (): number { return this.#held.size }

  /** Keep a descriptor that verifies for the current or the next epoch. */
  accept (raw: unknown): 'new' | 'known' | 'refused' {
    const e = epochAt(this.#o.schedule, this.#now())
    const v = [e, e + 1].map(x => verifyDescriptor(this.#o.crypto, raw, x)).find(r => r.ok)
    if (v === undefined || !v.ok) return 'refused'
    const key = `${v.value.descriptor.id}:${v.value.signature}`
    if (this.#held.has(key)) return 'known'
    this.#held.set(key, v.value)
    while (this.#held.size > (this.#o.maxDescriptors ?? 10_000)) this.#held.delete(this.#held.keys().next().value as string)
    return 'new'
  }

  build (epoch: number): NetworkDocument {
    const o = this.#o
    return buildEpochDocument(o.crypto, { network: o.network, epoch, schedule: o.schedule, graceMs: o.graceMs, geometry: o.geometry, mixing: o.mixing, ingresses: o.ingresses, descriptors: [...this.#held.values()] })
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

  async start (): Promise<void> {
    const servable = (epoch: number): boolean => { const e = epochAt(this.#o.schedule, this.#now()); return epoch === e || epoch === e + 1 }
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
        const m = /^\/v1\/(document|signature)\/(\d+)$/.exec(path)
        if (req.method === 'GET' && m !== null) {
          const epoch = Number(m[2])
          if (!servable(epoch)) { json(404, { error: 'only the current and the next epoch are served' }); return }
          const doc = this.build(epoch)
          const own = { signer: this.signer, signature: this.#sign(doc) }
          if (m[1] === 'signature') { json(200, own); return }
          json(200, { document: doc, signatures: [own, ...await this.#peerSignatures(epoch, doc)] })
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
    const s = this.#server
    if (s === null) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => resolve()))
  }
}
