/**
 * An ingress that follows directory authorities: it publishes its descriptor (server name, box
 * key, the exit gateways it attaches to), signed with its identity key, to every authority once
 * per epoch until each has taken it, and hands the service each new current document. The first
 * document is awaited at start; then a timer refreshes on an eighth of the epoch. A reload may
 * give it another list of authorities (setAuthorities): the next fetch and publish use it.
 */
import {
  type AuthorityRef,
  type CryptoSuite,
  DirectoryClient,
  type NetworkDocument,
  refreshIntervalMs,
  signIngressDescriptor
} from '../../mix/index.ts'
import { DescriptorPublisher, httpTransport } from '../io/index.ts'
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
  #dir: DirectoryClient
  #publisher: DescriptorPublisher
  /** epoch:reason refusals already reported (bounded: cleared past 64). */
  readonly #logged = new Set<string>()
  #doc: NetworkDocument | null = null
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #running: Promise<void> | null = null
  /** One descriptor per run: re-publishing the same bytes costs an authority nothing. */
  readonly #issuedMs: number

  constructor(o: IngressDirectoryOptions) {
    this.#o = o
    this.#issuedMs = o.now()
    this.#dir = this.#client(o.authorities)
    this.#publisher = new DescriptorPublisher(o.authorities)
  }

  #client(authorities: readonly AuthorityRef[]): DirectoryClient {
    const o = this.#o
    return new DirectoryClient({
      crypto: o.crypto,
      authorities,
      now: o.now,
      maxSkewMs: o.maxSkewMs,
      transport: httpTransport()
    })
  }

  /**
   * Follow these authorities from the next tick on: a new client (the schedule is asked again,
   * the document in use stays until a majority of the new list signs one) and a new publisher
   * (each authority of the list is sent this epoch's descriptor).
   */
  setAuthorities(authorities: readonly AuthorityRef[]): void {
    this.#dir = this.#client(authorities)
    this.#publisher = new DescriptorPublisher(authorities)
  }

  get directory(): DirectoryClient {
    return this.#dir
  }

  /** Publish, then wait (retrying every 500 ms) for a first valid document. */
  async start(): Promise<void> {
    for (let tries = 0; !this.#stopped; tries++) {
      await this.tick()
      if (this.#doc !== null) break
      if (tries === 0) this.#o.onWaiting?.()
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    this.#schedule()
  }

  #schedule(): void {
    if (this.#stopped) return
    const every = refreshIntervalMs(this.#dir.schedule)
    this.#timer = setTimeout(() => {
      this.#running = this.tick().finally(() => {
        this.#running = null
        this.#schedule()
      })
    }, every)
    this.#timer.unref()
  }

  async tick(): Promise<void> {
    // One client for the whole tick: a reload may replace this.#dir between its awaits.
    const dir = this.#dir
    const s = await dir.fetchSchedule().catch(() => null)
    if (s === null) return
    await this.#publish(dir.epochNow()!)
    const doc = await dir.refresh().catch(() => null)
    if (doc !== null && doc !== this.#doc) {
      this.#doc = doc
      this.#o.onDocument(doc)
    }
  }

  async #publish(epoch: number): Promise<void> {
    const o = this.#o
    const refused = await this.#publisher.publish(epoch, () =>
      JSON.stringify(
        signIngressDescriptor(
          o.crypto,
          {
            id: o.keys.id,
            serverName: o.serverName,
            identityKey: Buffer.from(o.keys.identity.publicKey).toString('hex'),
            boxKey: o.keys.box.publicKey.toString('hex'),
            gateways: o.gateways,
            binding: o.keys.binding
          },
          this.#issuedMs,
          o.keys.identity.secretKey
        )
      )
    )
    for (const reason of new Set(refused)) {
      if (!this.#logged.has(`${epoch}:${reason}`)) {
        this.#logged.add(`${epoch}:${reason}`)
        this.#o.onRefused?.(reason)
      }
    }
    if (this.#logged.size > 64) this.#logged.clear()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }
}
