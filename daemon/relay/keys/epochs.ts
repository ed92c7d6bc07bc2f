/**
 * A relay that follows directory authorities (docs/PROTOCOL.md §18.1): on a short tick, it
 * - has its mix keys made for this epoch and KEYS_AHEAD past the next, and publishes a signed
 *   descriptor with them to every authority until each has taken it, well before the next
 *   epoch's publish deadline;
 * - has the live keys rotated: handed to the relay for its unwrap workers, and those that left
 *   the live set retired (their replay tags deleted, then their files erased). A mix key's whole
 *   life is in keyring.ts;
 * - fetches documents (mix/directory/client.ts over daemon/io/directory-http.ts) and hands the relay
 *   each new current one.
 * The relay decides what a key change or a document means for its workers, filters and links.
 */
import {
  type AuthorityRef,
  type CryptoSuite,
  DirectoryClient,
  type DirectoryRejection,
  descriptorEpochs,
  epochAt,
  type NetworkDocument,
  type NetworkSchedule,
  type RelayRole,
  refreshIntervalMs,
  signDescriptor
} from '../../../mix/index.ts'
import { DescriptorPublisher, type Health, httpTransport, type Logger, softwareTag } from '../../io/index.ts'
import { type HandOver, MixKeys, type ReplayTags } from './keyring.ts'

export interface RelayEpochsOptions {
  readonly crypto: CryptoSuite
  readonly dataDir: string
  readonly authorities: readonly AuthorityRef[]
  readonly identity: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly self: { readonly id: string; readonly role: RelayRole; readonly layer: number; readonly address: string }
  readonly maxSkewMs: number
  readonly now: () => number
  readonly log: Logger
  readonly onRejected: (why: DirectoryRejection) => void
  /** Where a failing tick (a full disk: keys cannot be made) is reported, and cleared by the next good one. */
  readonly health?: Health
  /** Told to delete a retired key's replay tags before its file is erased. */
  readonly replay?: ReplayTags
}

export interface EpochHooks {
  /** The live key set changed; `retired` epochs lose their key right after this resolves. */
  readonly onKeys: HandOver
  readonly onDocument: (doc: NetworkDocument) => void
}

const TICK_MS = 100

export class RelayEpochs {
  readonly #o: RelayEpochsOptions
  readonly #keys: MixKeys
  #directory: DirectoryClient
  #publisher: EpochDescriptors
  #hooks: EpochHooks | null = null
  #doc: NetworkDocument | null = null
  #authorities: readonly AuthorityRef[]
  #nextRefresh = 0
  #nextPublish = 0
  /** epoch:reason pairs already logged (bounded: cleared past 64). */
  readonly #loggedRefusals = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | null = null
  #refreshing = false
  readonly #inFlight = new Set<Promise<void>>()
  #stopped = false

  constructor(o: RelayEpochsOptions) {
    this.#o = o
    this.#authorities = o.authorities
    this.#keys = new MixKeys({
      crypto: o.crypto,
      dataDir: o.dataDir,
      maxSkewMs: o.maxSkewMs,
      log: o.log,
      replay: o.replay
    })
    this.#directory = this.#client(o.authorities)
    this.#publisher = this.#descriptors(o.authorities)
  }

  #client(authorities: readonly AuthorityRef[]): DirectoryClient {
    const o = this.#o
    return new DirectoryClient({
      crypto: o.crypto,
      authorities,
      transport: httpTransport(),
      now: o.now,
      maxSkewMs: o.maxSkewMs,
      onRejected: o.onRejected
    })
  }

  #descriptors(authorities: readonly AuthorityRef[]): EpochDescriptors {
    const o = this.#o
    return new EpochDescriptors({ crypto: o.crypto, keys: this.#keys, authorities, identity: o.identity, self: o.self })
  }

  /**
   * Follow these authorities from now on (a reload). The new list takes over only once a majority
   * of it serves the schedule this relay runs on (same network, epoch length, start and grace):
   * the tick always has a schedule, and a list that answers for another network, or not yet, is
   * refused and the old list kept. The document in use stays until the new list signs the next.
   */
  async setAuthorities(authorities: readonly AuthorityRef[]): Promise<'applied' | 'unchanged' | 'refused'> {
    const same = (a: readonly AuthorityRef[], b: readonly AuthorityRef[]): boolean =>
      JSON.stringify(a) === JSON.stringify(b)
    if (same(authorities, this.#authorities)) return 'unchanged'
    const next = this.#client(authorities)
    const s = await next.fetchSchedule()
    const cur = this.#directory.schedule
    if (s === null || cur === null || JSON.stringify(s) !== JSON.stringify(cur)) return 'refused'
    this.#directory = next
    this.#publisher = this.#descriptors(authorities)
    this.#authorities = authorities
    this.#nextRefresh = 0
    this.#nextPublish = 0
    return 'applied'
  }

  get #schedule(): NetworkSchedule {
    return this.#directory.schedule!
  }

  /**
   * The schedule, this epoch's descriptor published (so that a new relay makes the next
   * document), and a first valid document; retried every 500 ms until the authorities answer.
   */
  async firstDocument(stopping: () => boolean): Promise<NetworkDocument | null> {
    for (let tries = 0; !stopping(); tries++) {
      const schedule = await this.#directory.fetchSchedule()
      if (schedule !== null)
        this.#onRefused(this.#directory.epochNow()!, await this.#publisher.publish(this.#directory.epochNow()!))
      const doc = schedule === null ? null : await this.#directory.refresh()
      if (doc !== null) {
        this.waiting = null
        return doc
      }
      this.waiting =
        schedule === null
          ? 'waiting for the directory authorities: no majority of them answers with the schedule (unreachable, or serving another network)'
          : 'waiting for a network document: the authorities answer, but no document signed by a majority of them is valid yet'
      // At once, then every 30 s: the reason is in /readyz meanwhile.
      if (tries % 60 === 0)
        this.#o.log.warn({ event: 'directory_wait', stage: schedule === null ? 'schedule' : 'document' }, this.waiting)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    return null
  }

  /** While firstDocument waits: what for, in words for /readyz and the log; null otherwise. */
  waiting: string | null = null

  get #refreshMs(): number {
    return refreshIntervalMs(this.#schedule)
  }

  /** After firstDocument: run the first tick (live keys handed over), then keep ticking. */
  async start(hooks: EpochHooks): Promise<void> {
    this.#hooks = hooks
    await this.tick()
    this.#next()
  }

  #next(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#running = this.tick()
        .then(
          () => this.#o.health?.ok('epochs'),
          e => this.#failed(e)
        )
        .finally(() => {
          this.#running = null
          this.#next()
        })
    }, TICK_MS)
    this.#timer.unref()
  }

  async tick(): Promise<void> {
    const o = this.#o
    const hooks = this.#hooks!
    const s = this.#schedule
    const now = o.now()
    const e = epochAt(s, now)
    // Keys ahead that cannot be written (a full disk) must not hold up the live set's rotation and erasure: reported at the end.
    let ahead: unknown = null
    try {
      this.#keys.makeAhead(e)
    } catch (err) {
      ahead = err
    }
    await this.#keys.rotate(s, now, hooks.onKeys)
    // Network work runs beside the tick, so that a slow authority never delays a key change.
    if (now >= this.#nextPublish) {
      this.#nextPublish = now + this.#refreshMs
      this.#background(this.#publisher.publish(e).then(refused => this.#onRefused(e, refused)))
    }
    if (!this.#refreshing && (now >= this.#nextRefresh || this.#doc === null || this.#doc.epoch !== e)) {
      this.#nextRefresh = now + this.#refreshMs
      this.#refreshing = true
      this.#background(
        this.#directory
          .refresh()
          .then(
            () => {},
            () => {}
          )
          .finally(() => {
            this.#refreshing = false
          })
      )
    }
    const doc = this.#directory.current()
    if (doc !== null && doc !== this.#doc) {
      this.#doc = doc
      hooks.onDocument(doc)
    }
    if (ahead !== null) throw ahead
  }

  /** Refusals by an authority are what an operator must see (a relay not admitted, or admitted with another layer): logged once per epoch and reason. */
  #onRefused(epoch: number, refused: string[]): void {
    // Over the authority's rate: try again in a second or two, not an eighth of an epoch later.
    if (refused.includes('rate_limited'))
      this.#nextPublish = Math.min(this.#nextPublish, this.#o.now() + 1000 + Math.floor(Math.random() * 1000))
    for (const reason of new Set(refused)) {
      if (this.#loggedRefusals.has(`${epoch}:${reason}`)) continue
      this.#loggedRefusals.add(`${epoch}:${reason}`)
      this.#o.log.warn({ event: 'descriptor_refused', reason, epoch }, "an authority refused this relay's descriptor")
    }
    if (this.#loggedRefusals.size > 64) this.#loggedRefusals.clear()
  }

  #failed(e: unknown): void {
    if (this.#o.health !== undefined) this.#o.health.fail('epochs', e)
    else this.#o.log.error({ err: (e as Error).message }, 'epoch tick failed')
  }

  /** Work beside the tick; its failure (a key that cannot be written) is reported, never left unhandled. */
  #background(work: Promise<void>): void {
    const p = work.catch(e => this.#failed(e))
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
    await Promise.all([...this.#inFlight])
  }
}

interface PublisherOptions {
  readonly crypto: CryptoSuite
  readonly keys: MixKeys
  readonly authorities: readonly AuthorityRef[]
  readonly identity: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly self: { readonly id: string; readonly role: RelayRole; readonly layer: number; readonly address: string }
}

/** Publishes the descriptor of an epoch (its keys made first) to each authority until each has taken it. */
class EpochDescriptors {
  readonly #publisher: DescriptorPublisher
  constructor(private readonly o: PublisherOptions) {
    this.#publisher = new DescriptorPublisher(o.authorities)
  }

  /** Publish this epoch's descriptor to each authority that has not taken it yet; the reasons of those that refused it. */
  async publish(epoch: number): Promise<string[]> {
    const o = this.o
    o.keys.makeAhead(epoch)
    const software = softwareTag()
    return await this.#publisher.publish(epoch, () =>
      JSON.stringify(
        signDescriptor(
          o.crypto,
          {
            version: 1,
            id: o.self.id,
            role: o.self.role,
            layer: o.self.layer,
            address: o.self.address,
            identityKey: Buffer.from(o.identity.publicKey).toString('hex'),
            mixKeys: descriptorEpochs(epoch).map(x => ({ epoch: x, key: o.keys.publicHex(x) })),
            // Listed in the document, so that the directory and the dashboards see the fleet's versions.
            ...(software === undefined ? {} : { software })
          },
          o.identity.secretKey
        )
      )
    )
  }
}
