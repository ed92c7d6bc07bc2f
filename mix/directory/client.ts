/**
 * The directory client that relays, ingresses and SDK clients share (docs/PROTOCOL.md §18.1), sans I/O:
 * the HTTP transport and the clock are injected (daemon/ and client/ each supply a transport).
 * It asks every configured authority at once, takes a document only with signatures from a majority of
 * them on identical bytes, refuses documents that are oversized, malformed, of another network or
 * geometry, stale or from the future (beyond the tolerated clock skew), and refuses an epoch for
 * good once two valid but different documents for it are seen (equivocation). It keeps the last
 * valid document: when no document of the current epoch can be had, `current()` is the newest
 * one held. Time comes from the injected clock.
 */

import type { CryptoSuite } from '../crypto/suite.ts'
import { MixError } from '../errors.ts'
import { type GeometryParams, NETWORK_GEOMETRY } from '../sphinx/geometry.ts'
import { chooseSchedule, type NetworkSchedule } from './announce.ts'
import { canonicalJson, type DirectoryCode, MAX_DOCUMENT_BYTES, type NetworkDocument } from './document.ts'
import { chooseDocument, epochAt, epochStart } from './epoch.ts'

export interface AuthorityRef {
  readonly url: string
  readonly publicKey: string
}

/** Why a served document was refused: a closed set, usable as a metric label. */
export type DirectoryRejection =
  | 'too_large'
  | 'malformed'
  | 'bad_signatures'
  | 'geometry'
  | 'not_valid_now'
  | 'inconsistent'
  | 'equivocation'
  | 'wrong_network'

const REJECTION: Record<DirectoryCode, DirectoryRejection> = {
  DIR_TOO_LARGE: 'too_large',
  DIR_MALFORMED: 'malformed',
  DIR_BAD_SIGNATURES: 'bad_signatures',
  DIR_GEOMETRY_MISMATCH: 'geometry',
  DIR_NOT_VALID_NOW: 'not_valid_now',
  DIR_INCONSISTENT: 'inconsistent'
}

/** How the client reaches an authority: GET a URL, at most `limit + 1` bytes of a 200 answer, else null. */
export interface DirectoryTransport {
  get: (url: string, limit: number) => Promise<Uint8Array | null>
}

export interface DirectoryClientOptions {
  readonly crypto: CryptoSuite
  readonly authorities: readonly AuthorityRef[]
  readonly transport: DirectoryTransport
  readonly now: () => number
  readonly geometry?: GeometryParams
  /** Clock skew tolerated against the documents' validity windows, ms. @default 30000 */
  readonly maxSkewMs?: number
  readonly onRejected?: (why: DirectoryRejection) => void
}

/** How an authority answered a descriptor: taken, or why not (its closed-set reason, `http_NNN`, or `unreachable`). */
export type PostResult = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** The result of a POST /v1/descriptor from its status and body; a reason is kept only if it is a short lowercase word (never an authority's free text in our logs). */
export function postResult(status: number | null, body: string): PostResult {
  if (status === null) return { ok: false, reason: 'unreachable' }
  if (status === 200) return { ok: true }
  let reason: unknown
  try {
    reason = (JSON.parse(body) as { reason?: unknown }).reason
  } catch {
    reason = undefined
  }
  return { ok: false, reason: typeof reason === 'string' && /^[a-z_]{1,32}$/.test(reason) ? reason : `http_${status}` }
}

/**
 * How often a relay, an ingress or a client asks the authorities again: an eighth of the epoch, so
 * that a new document is seen well before the epoch turns, within [250 ms, 30 s]; 1 s while the
 * schedule is not known yet.
 */
export function refreshIntervalMs(schedule: NetworkSchedule | null): number {
  if (schedule === null) return 1000
  return Math.min(30_000, Math.max(250, Math.floor(schedule.epochMs / 8)))
}

export class DirectoryClient {
  readonly #o: DirectoryClientOptions
  readonly #now: () => number
  readonly #signers: string[]
  readonly #docs = new Map<number, NetworkDocument>()
  readonly #refused = new Set<number>()
  #schedule: NetworkSchedule | null = null

  constructor(o: DirectoryClientOptions) {
    if (o.authorities.length === 0) throw MixError.BAD_ARGUMENT('at least one directory authority is needed')
    this.#o = o
    this.#now = o.now
    this.#signers = o.authorities.map(a => a.publicKey)
  }

  get schedule(): NetworkSchedule | null {
    return this.#schedule
  }
  /** Epochs refused for equivocation. */
  get refusedEpochs(): number[] {
    return [...this.#refused]
  }

  async #getAll(path: string, limit: number): Promise<Uint8Array[]> {
    const got = await Promise.all(
      this.#o.authorities.map(async a => await this.#o.transport.get(`${a.url}${path}`, limit).catch(() => null))
    )
    return got.filter((b): b is Uint8Array => b !== null)
  }

  /** The epoch schedule, signed identically by a majority; fetched once. Null while no majority answers. */
  async fetchSchedule(): Promise<NetworkSchedule | null> {
    if (this.#schedule !== null) return this.#schedule
    const answers = (await this.#getAll('/v1/schedule', 4096)).map(b => {
      try {
        return JSON.parse(Buffer.from(b).toString('utf8')) as unknown
      } catch {
        return null
      }
    })
    const r = chooseSchedule(this.#o.crypto, answers, this.#signers)
    if (!r.ok) return null
    this.#schedule = r.value
    return r.value
  }

  /** The current epoch by the injected clock (null before the schedule is known). */
  epochNow(): number | null {
    return this.#schedule === null ? null : epochAt(this.#schedule, this.#now())
  }

  /** Fetch and check the document of `epoch`; null when none can be taken (reasons go to onRejected). */
  async fetch(epoch: number): Promise<NetworkDocument | null> {
    const s = await this.fetchSchedule()
    if (s === null || this.#refused.has(epoch)) return null
    const served = await this.#getAll(`/v1/document/${epoch}`, MAX_DOCUMENT_BYTES)
    const reject = (why: DirectoryRejection): null => {
      this.#o.onRejected?.(why)
      return null
    }
    // The next epoch's document is taken ahead of its start; any other must be valid now.
    const now = this.#now()
    const nowMs = epoch === epochAt(s, now) + 1 ? Math.max(now, epochStart(s, epoch)) : now
    const r = chooseDocument(this.#o.crypto, served, {
      signers: this.#signers.map(k => Buffer.from(k, 'hex')),
      geometry: this.#o.geometry ?? NETWORK_GEOMETRY,
      nowMs,
      skewMs: this.#o.maxSkewMs ?? 30_000,
      epoch,
      onRejected: code => this.#o.onRejected?.(REJECTION[code])
    })
    if (!r.ok) {
      if (r.code === 'DIR_EQUIVOCATION') {
        this.#refuse(epoch)
        return reject('equivocation')
      }
      return null
    }
    const d = r.value
    if (d.network !== s.network || d.epochMs !== s.epochMs || d.graceMs !== s.graceMs) return reject('wrong_network')
    const held = this.#docs.get(epoch)
    // A valid document that differs from the one already held: some authorities signed both.
    if (held !== undefined && canonicalJson(held) !== canonicalJson(d)) {
      this.#refuse(epoch)
      return reject('equivocation')
    }
    // The same document again (re-asked to notice equivocation): the one held stays, so that
    // `current()` changes only when the document does and its users do (and log) nothing on a re-ask.
    if (held !== undefined) return held
    this.#docs.set(epoch, d)
    for (const e of this.#docs.keys()) if (e < epoch - 2) this.#docs.delete(e)
    return d
  }

  #refuse(epoch: number): void {
    this.#refused.add(epoch)
    this.#docs.delete(epoch)
  }

  /** The document of the current epoch if held, else the newest one held before it (the last good one). */
  current(): NetworkDocument | null {
    const e = this.epochNow()
    if (e === null) return null
    const held = [...this.#docs.keys()].filter(k => k <= e).sort((a, b) => b - a)
    return held.length === 0 ? null : this.#docs.get(held[0]!)!
  }

  document(epoch: number): NetworkDocument | undefined {
    return this.#docs.get(epoch)
  }

  /**
   * Fetch what is missing: the current epoch's document and, once served, the next one's. Also
   * re-asks for the current epoch while it is held, so that equivocation is noticed.
   */
  async refresh(): Promise<NetworkDocument | null> {
    await this.fetchSchedule()
    const e = this.epochNow()
    if (e === null) return null
    await this.fetch(e)
    if (!this.#docs.has(e + 1)) await this.fetch(e + 1)
    return this.current()
  }
}
