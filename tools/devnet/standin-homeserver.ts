/**
 * A stand-in Matrix homeserver for the devnet and the tests: a Matrix homeserver cannot run here,
 * so this small HTTP server implements only what sealmix touches. It is a fake, not a
 * homeserver, but on the path a delivery takes it checks what a real one checks
 * (docs/DECISIONS.md, "The stand-in homeserver"):
 *   GET  /_matrix/client/v3/account/whoami                 (access token, or as_token + ?user_id=, -> user)
 *   PUT  /_matrix/client/v3/sendToDevice/{type}/{txnId}    (as_token + ?user_id= in the registration's
 *                                                           namespace, or a user's token; idempotent per
 *                                                           transaction, remembered for a bounded time)
 *   GET  /_matrix/client/v3/sync?since=&timeout=           (to-device events only, long-poll; user tokens)
 * It prints each to-device event as it arrives: recipient, type and size. It never learns a sender.
 */
import type { IncomingMessage } from 'node:http'
import {
  type HttpListener,
  type JsonAnswer,
  listenHttp,
  matchRoute,
  type Route,
  readBody,
  readIngressConfigFile,
  serveJson
} from '../../daemon/index.ts'

export interface StandinUser {
  readonly userId: string
  readonly deviceId: string
  readonly accessToken: string
}

/** The application service's registration, in the homeserver's file format (what `sealmix init --role ingress` writes). */
export interface AppServiceRegistration {
  readonly id?: string
  readonly as_token?: string
  readonly sender_localpart: string
  readonly namespaces: { readonly users: ReadonlyArray<{ readonly exclusive: boolean; readonly regex: string }> }
}

export interface StandinOptions {
  readonly serverName: string
  readonly asToken: string
  readonly users: readonly StandinUser[]
  /**
   * The application service's registration, or the path of its YAML file. Default: the one
   * `sealmix init --role ingress` writes (sender `@sealmix:<serverName>`, the exclusive user
   * namespace `@sealmix:<serverName>`).
   */
  readonly registration?: AppServiceRegistration | string
  readonly print?: (line: string) => void
  /** Events kept per device (oldest dropped beyond this). */
  readonly maxEventsPerDevice?: number
  /** How long a completed transaction is remembered. @default 30 min (Synapse keeps them 30 to 60) */
  readonly txnTtlMs?: number
  /** Transactions remembered at once; beyond it the oldest is forgotten first. @default 100000 */
  readonly maxTransactions?: number
  /** Characters of transaction keys (scope, event type, txnId) remembered at once, likewise. @default 8 Mi */
  readonly maxTransactionKeyChars?: number
  /** The clock transactions expire by (tests). @default Date.now */
  readonly now?: () => number
}

interface Stored {
  readonly seq: number
  readonly type: string
  readonly sender: string
  readonly content: Record<string, unknown>
}

/** Who a request acts as: an application service asserting a user, or a user with a device. */
type Requester =
  | { readonly kind: 'appservice'; readonly userId: string }
  | { readonly kind: 'user'; readonly user: StandinUser }

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string
  ) {
    super(message)
  }
}

const TXN_TTL_MS = 30 * 60_000
const MAX_TXNS = 100_000
const MAX_TXN_KEY_CHARS = 8 << 20
const MAX_BODY = 1 << 20
const USER_ID = /^@[^:\s]+:\S+$/

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function defaultRegistration(serverName: string): AppServiceRegistration {
  return {
    sender_localpart: 'sealmix',
    namespaces: { users: [{ exclusive: true, regex: `@sealmix:${serverName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` }] }
  }
}

export class StandinHomeserver {
  readonly #o: StandinOptions
  readonly #now: () => number
  readonly #sender: string
  /** Compiled user namespaces, anchored at both ends (a whole user id must match). */
  readonly #namespaces: ReadonlyArray<{ readonly exclusive: boolean; readonly re: RegExp }>
  readonly #events = new Map<string, Stored[]>()
  /**
   * Completed transactions: (scope, endpoint path with event type and txnId) -> the response
   * given. Insertion order is completion order, so expiry and eviction both drop from the front.
   * Bound: at most `maxTransactions` entries (100000 by default) and `maxTransactionKeyChars`
   * characters of keys (8 Mi; a txnId is as long as a URL allows), so about 30 MB at worst; each is kept `txnTtlMs`
   * (30 min) and forgotten after: a retransmission after that is a new transaction and is
   * delivered again, as Synapse does after its 30 to 60 minutes. Refused requests are not kept.
   */
  readonly #txns = new Map<
    string,
    { readonly atMs: number; readonly status: number; readonly body: Record<string, unknown> }
  >()
  #txnKeyChars = 0
  readonly #forgotten = { expired: 0, evicted: 0 }
  readonly #waiters = new Set<() => void>()
  #seq = 0
  #server: HttpListener | null = null
  /** Every to-device event accepted, in order: for tests and the devnet's status line. */
  readonly received: Array<{ userId: string; deviceId: string; type: string; bytes: number }> = []

  constructor(o: StandinOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
    const reg =
      typeof o.registration === 'string'
        ? (readIngressConfigFile(o.registration) as AppServiceRegistration)
        : (o.registration ?? defaultRegistration(o.serverName))
    if (typeof reg?.sender_localpart !== 'string' || !Array.isArray(reg.namespaces?.users))
      throw new TypeError('registration needs sender_localpart and namespaces.users')
    if (reg.as_token !== undefined && reg.as_token !== o.asToken)
      throw new TypeError("the registration's as_token is not the stand-in's asToken")
    this.#sender = `@${reg.sender_localpart}:${o.serverName}`
    this.#namespaces = reg.namespaces.users.map(n => ({
      exclusive: n.exclusive === true,
      re: new RegExp(`^(?:${n.regex})$`)
    }))
    // A real homeserver refuses to register a user inside an application service's exclusive
    // namespace (M_EXCLUSIVE), so such a user cannot have an access token of its own.
    for (const u of o.users) {
      if (u.userId === this.#sender || this.#namespaces.some(n => n.exclusive && n.re.test(u.userId)))
        throw new TypeError(
          `user ${u.userId} is in the application service's exclusive namespace (a homeserver answers M_EXCLUSIVE to its registration)`
        )
    }
  }

  /** What the transaction memory holds and what it has forgotten (by age, by the bound). */
  get transactions(): { readonly size: number; readonly expired: number; readonly evicted: number } {
    this.#expire()
    return { size: this.#txns.size, ...this.#forgotten }
  }

  /** Listens with the deadlines of sealmix's own listeners (listenHttp); returns the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.#server = await listenHttp(
      { host, port },
      serveJson(async req => await this.#handle(req), {
        status: 500,
        body: { errcode: 'M_UNKNOWN', error: 'Internal error' }
      })
    )
    return this.#server.port
  }

  async close(): Promise<void> {
    for (const w of this.#waiters) w()
    await this.#server?.close()
    this.#server = null
  }

  /**
   * The requester of an authenticated request: an as_token acts as `?user_id=` (default: the
   * registration's sender), which must be the sender or a registered local user in one of its
   * user namespaces; a user's access token acts as that user (`user_id` is ignored, as Synapse does).
   */
  #requester(req: IncomingMessage, url: URL): Requester {
    const header = req.headers.authorization
    if (header === undefined) throw new HttpError(401, 'M_MISSING_TOKEN', 'Missing access token')
    const token = /^Bearer (.+)$/.exec(header)?.[1]
    if (token !== undefined && token === this.#o.asToken) {
      const userId = url.searchParams.get('user_id') ?? this.#sender
      if (userId === this.#sender) return { kind: 'appservice', userId }
      const local = userId.endsWith(`:${this.#o.serverName}`)
      if (!local || !this.#namespaces.some(n => n.re.test(userId)))
        throw new HttpError(403, 'M_FORBIDDEN', 'Application service cannot masquerade as this user')
      if (!this.#o.users.some(u => u.userId === userId))
        throw new HttpError(403, 'M_FORBIDDEN', 'Application service has not registered this user')
      return { kind: 'appservice', userId }
    }
    const user = this.#o.users.find(u => u.accessToken === token)
    if (user === undefined) throw new HttpError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token')
    return { kind: 'user', user }
  }

  /** The endpoints (the file's head lists them); another method on one of their paths is 405, as Synapse answers. */
  readonly #routes: ReadonlyArray<
    Route<(req: IncomingMessage, url: URL, params: readonly string[]) => Promise<JsonAnswer>>
  > = [
    { method: 'GET', path: '/_matrix/client/v3/account/whoami', handler: async (req, url) => this.#whoami(req, url) },
    {
      method: 'PUT',
      path: /^\/_matrix\/client\/v3\/sendToDevice\/([^/]+)\/([^/]+)$/,
      handler: async (req, url, [type, txnId]) =>
        await this.#sendToDevice(req, this.#requester(req, url), decodeURIComponent(type!), decodeURIComponent(txnId!))
    },
    { method: 'GET', path: '/_matrix/client/v3/sync', handler: async (req, url) => await this.#sync(req, url) }
  ]

  async #handle(req: IncomingMessage): Promise<JsonAnswer> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const r = matchRoute(this.#routes, req.method, url.pathname)
      if (r.kind === 'wrong_method') throw new HttpError(405, 'M_UNRECOGNIZED', 'Unrecognized request')
      if (r.kind === 'not_found') throw new HttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request')
      return await r.handler(req, url, r.params)
    } catch (e) {
      if (e instanceof HttpError) return { status: e.status, body: { errcode: e.errcode, error: e.message } }
      throw e
    }
  }

  #whoami(req: IncomingMessage, url: URL): JsonAnswer {
    const r = this.#requester(req, url)
    return {
      status: 200,
      body: r.kind === 'user' ? { user_id: r.user.userId, device_id: r.user.deviceId } : { user_id: r.userId }
    }
  }

  async #sync(req: IncomingMessage, url: URL): Promise<JsonAnswer> {
    const r = this.#requester(req, url)
    if (r.kind !== 'user')
      throw new HttpError(403, 'M_FORBIDDEN', 'The stand-in serves /sync to user access tokens only')
    const u = r.user
    const since = Number(url.searchParams.get('since') ?? '0') || 0
    const timeout = Math.min(30_000, Number(url.searchParams.get('timeout') ?? '0') || 0)
    const pending = (): Stored[] => (this.#events.get(`${u.userId}\0${u.deviceId}`) ?? []).filter(e => e.seq > since)
    if (pending().length === 0 && timeout > 0) await this.#wait(timeout)
    const events = pending()
    return {
      status: 200,
      body: {
        next_batch: String(events.at(-1)?.seq ?? since),
        to_device: { events: events.map(e => ({ type: e.type, sender: e.sender, content: e.content })) }
      }
    }
  }

  /**
   * One sendToDevice. The transaction's scope is the application service (its as_token) or the
   * user's device, and its endpoint the path with event type and txnId (not the query string):
   * Synapse keys its cache on (path, appservice id) and (path, user, device). A completed
   * transaction answers a retransmission with the same response and delivers nothing; the body
   * of a retransmission is not looked at (Synapse neither). Refusals are not remembered.
   */
  async #sendToDevice(
    req: IncomingMessage,
    r: Requester,
    type: string,
    txnId: string
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const body = await readBody(req, MAX_BODY)
    if (body.kind !== 'body') throw new HttpError(413, 'M_TOO_LARGE', 'Request body too large')
    const text = body.text
    // From here to the end nothing awaits: lookup, delivery and memory happen in one step.
    const scope = r.kind === 'appservice' ? 'as' : `user\0${r.user.userId}\0${r.user.deviceId}`
    const key = `${scope}\0sendToDevice/${type}/${txnId}`
    this.#expire()
    const done = this.#txns.get(key)
    if (done !== undefined) return done
    const messages = this.#parseMessages(text)
    const sender = r.kind === 'appservice' ? r.userId : r.user.userId
    for (const [userId, devices] of Object.entries(messages)) {
      for (const [deviceId, content] of Object.entries(devices)) {
        // Like Synapse: '*' is every device of the user; a local device that does not exist gets
        // nothing (the request still succeeds). Users of other servers are kept here (no federation).
        const known = this.#o.users.filter(u => u.userId === userId).map(u => u.deviceId)
        const local = userId.endsWith(`:${this.#o.serverName}`)
        const targets = deviceId === '*' ? known : !local || known.includes(deviceId) ? [deviceId] : []
        for (const d of targets) this.#store(userId, d, type, sender, r.kind === 'appservice', content)
      }
    }
    for (const w of this.#waiters) w()
    const answer = { atMs: this.#now(), status: 200, body: {} }
    this.#txns.set(key, answer)
    this.#txnKeyChars += key.length
    while (
      this.#txns.size > (this.#o.maxTransactions ?? MAX_TXNS) ||
      this.#txnKeyChars > (this.#o.maxTransactionKeyChars ?? MAX_TXN_KEY_CHARS)
    ) {
      this.#forget(this.#txns.keys().next().value as string)
      this.#forgotten.evicted++
    }
    return answer
  }

  /** `{ messages: { USER_ID: { DEVICE_ID | '*': { ...content } } } }`, or the spec's 400. */
  #parseMessages(text: string): Record<string, Record<string, Record<string, unknown>>> {
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new HttpError(400, 'M_NOT_JSON', 'Content not JSON')
    }
    if (!isObject(body)) throw new HttpError(400, 'M_BAD_JSON', 'Content must be a JSON object')
    const messages = body.messages
    if (messages === undefined) throw new HttpError(400, 'M_BAD_JSON', 'Missing params: messages')
    if (!isObject(messages)) throw new HttpError(400, 'M_BAD_JSON', 'messages must be an object of users')
    for (const [userId, devices] of Object.entries(messages)) {
      if (!USER_ID.test(userId)) throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid user ID')
      if (!isObject(devices))
        throw new HttpError(400, 'M_BAD_JSON', 'messages must map each user to an object of devices')
      for (const content of Object.values(devices))
        if (!isObject(content)) throw new HttpError(400, 'M_BAD_JSON', "each device's message must be an object")
    }
    return messages as Record<string, Record<string, Record<string, unknown>>>
  }

  #store(
    userId: string,
    deviceId: string,
    type: string,
    sender: string,
    bot: boolean,
    content: Record<string, unknown>
  ): void {
    const key = `${userId}\0${deviceId}`
    const list = this.#events.get(key) ?? []
    list.push({ seq: ++this.#seq, type, sender, content })
    while (list.length > (this.#o.maxEventsPerDevice ?? 10_000)) list.shift()
    this.#events.set(key, list)
    const bytes = JSON.stringify(content).length
    this.received.push({ userId, deviceId, type, bytes })
    this.#o.print?.(
      `homeserver ${this.#o.serverName}: to-device ${type} for ${userId}/${deviceId}, ${bytes} bytes, sent by ${bot ? `the bot ${sender} (the real sender is sealed inside)` : sender}`
    )
  }

  /** Forget transactions older than the time-to-live (oldest first: the map is in completion order). */
  #expire(): void {
    const oldest = this.#now() - (this.#o.txnTtlMs ?? TXN_TTL_MS)
    for (const [k, v] of this.#txns) {
      if (v.atMs > oldest) break
      this.#forget(k)
      this.#forgotten.expired++
    }
  }

  #forget(key: string): void {
    this.#txns.delete(key)
    this.#txnKeyChars -= key.length
  }

  async #wait(ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(t)
        this.#waiters.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }
}
