/**
 * An ingress that follows directory authorities: it publishes its descriptor (server name, box
 * key, the exit gateways it attaches to), signed with its identity key, to every authority once
 * per epoch until each has taken it, and hands the service each new current document. The first
 * document is awaited at start; then a timer refreshes on an eighth of the epoch.
 */
import { directoryClient, postDescriptor } from '../directory.ts'
import { signIngressDescriptor, type AuthorityRef, type CryptoSuite, type DirectoryClient, type NetworkDocument } from '../../mix/index.ts'
import type { IngressKeys } from './keys.ts'

export interface IngressDirectoryOptions {
  readonly crypto: CryptoSuite
  readonly keys: IngressKeys
  readonly serverName: string
  readonly authorities: readonly AuthorityRef[]
  readonly gateways: readonly string[]
  readonly maxSkewMs: number
  readonly now: () => number
  readonly onDocument: (doc: NetworkDocument) => void
  /** Called once when the first attempt finds no document (the authorities are not up, or have none yet). */
  readonly onWaiting?: () => void
  /** An authority refused the descriptor (once per epoch and reason): `unbound`, `server_not_admitted`, ... */
  readonly onRefused?: (reason: string) => void
}

export class IngressDirectory {
  readonly #o: IngressDirectoryOptions
  readonly #dir: DirectoryClient
  readonly #accepted = new Map<number, Set<string>>()
  /** epoch:reason refusals already reported (bounded: cleared past 64). */
  readonly #logged = new Set<string>()
  #doc: NetworkDocument | null = null
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #running: Promise<void> | null = null
  /** One descriptor per run: re-publishing the same bytes costs an authority nothing. */
  readonly #issuedMs: number

  constructor (o: IngressDirectoryOptions) {
    this.#o = o
    this.#issuedMs = o.now()
    this.#dir = directoryClient({ crypto: o.crypto, authorities: o.authorities, now: o.now, maxSkewMs: o.maxSkewMs })
  }

  get directory (): DirectoryClient { return this.#dir }

  /** Publish, then wait (retrying every 500 ms) for a first valid document. */
  async start (): Promise<void> {
    for (let tries = 0; !this.#stopped; tries++) {
      await this.tick()
      if (this.#doc !== null) break
      if (tries === 0) this.#o.onWaiting?.()
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    this.#schedule()
  }

  #schedule (): void {
    if (this.#stopped) return
    const s = this.#dir.schedule
    const every = s === null ? 1000 : Math.min(30_000, Math.max(250, Math.floor(s.epochMs / 8)))
    this.#timer = setTimeout(() => { this.#running = this.tick().finally(() => { this.#running = null; this.#schedule() }) }, every)
    this.#timer.unref()
  }

  async tick (): Promise<void> {
    const s = await this.#dir.fetchSchedule().catch(() => null)
    if (s === null) return
    await this.#publish(this.#dir.epochNow()!)
    const doc = await this.#dir.refresh().catch(() => null)
    if (doc !== null && doc !== this.#doc) { this.#doc = doc; this.#o.onDocument(doc) }
  }

  async #publish (epoch: number): Promise<void> {
    const o = this.#o
    const done = this.#accepted.get(epoch) ?? new Set<string>()
    this.#accepted.clear()
    this.#accepted.set(epoch, done)
    const todo = o.authorities.filter(a => !done.has(a.url))
    if (todo.length === 0) return
    const d = signIngressDescriptor(o.crypto, { id: o.keys.id, serverName: o.serverName, identityKey: Buffer.from(o.keys.identity.publicKey).toString('hex'), boxKey: o.keys.box.publicKey.toString('hex'), gateways: o.gateways, binding: o.keys.binding }, this.#issuedMs, o.keys.identity.secretKey)
    const body = JSON.stringify(d)
    const refused = new Set<string>()
    await Promise.all(todo.map(async a => { const r = await postDescriptor(a, body); if (r.ok) done.add(a.url); else refused.add(r.reason) }))
    for (const reason of refused) if (!this.#logged.has(`${epoch}:${reason}`)) { this.#logged.add(`${epoch}:${reason}`); this.#o.onRefused?.(reason) }
    if (this.#logged.size > 64) this.#logged.clear()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }
}
