/**
 * A stand-in Matrix homeserver for the devnet and the tests: a Matrix homeserver cannot run here,
 * so this small HTTP server implements only what sealmix and a Matrix client library starting up
 * touch. It is a fake, not a homeserver, but what it serves is shaped as the Matrix client-server
 * API v3 says, and on the path a delivery takes it checks what a real one checks
 * (docs/DECISIONS.md, "The stand-in homeserver"):
 *   GET  /_matrix/client/v3/account/whoami                 (access token, or as_token + ?user_id=, -> user)
 *   PUT  /_matrix/client/v3/sendToDevice/{type}/{txnId}    (as_token + ?user_id= in the registration's
 *                                                           namespace, or a user's token; idempotent per
 *                                                           transaction, remembered for a bounded time)
 *   GET  /_matrix/client/v3/sync?since=&timeout=&full_state= (to-device events and rooms, long-poll; user
 *                                                           tokens; a `filter` is accepted and not applied)
 *   rooms (tools/devnet/standin-rooms.ts): POST createRoom, rooms/{roomId}/invite|join|leave|kick,
 *        join/{roomIdOrAlias}; PUT rooms/{roomId}/send/{type}/{txnId} (idempotent as sendToDevice);
 *        GET rooms/{roomId}/joined_members|members|state. The application service acts in rooms as
 *        any user it may assert, as a user's token does.
 *   what matrix-js-sdk asks at start, answered minimally: GET /_matrix/client/versions,
 *        GET capabilities, GET pushrules/ (no rules), POST user/{userId}/filter and GET it back.
 * It prints each to-device event as it arrives (recipient, type and size) and each room event
 * (room, type, size and the sender it saw). It never learns a sealed sender.
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
import {
  type Actor,
  HttpError,
  jsonObject,
  optionalString,
  parseCreateRoom,
  ROOM_VERSION,
  StandinRooms,
  USER_ID,
  userIdParam
} from './standin-rooms.ts'

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
  /** Rooms at once; beyond it createRoom is refused. @default 1000 */
  readonly maxRooms?: number
  /** Events kept per room (the oldest are folded into the room's state beyond this). @default 10000 */
  readonly maxEventsPerRoom?: number
  /** Bytes of events kept per room, likewise. @default 4 MiB */
  readonly maxRoomEventBytes?: number
  /** Users with a membership per room; beyond it invites and joins are refused. @default 1000 */
  readonly maxMembersPerRoom?: number
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

const TXN_TTL_MS = 30 * 60_000
const MAX_TXNS = 100_000
const MAX_TXN_KEY_CHARS = 8 << 20
const MAX_BODY = 1 << 20
/** Filters kept per user (the oldest forgotten beyond it); a client makes one at each start. */
const MAX_FILTERS_PER_USER = 100
/** Bytes of one filter. */
const MAX_FILTER_BYTES = 64 << 10
/**
 * The spec versions /versions claims: those matrix-js-sdk knows (its SUPPORTED_MATRIX_VERSIONS).
 * The stand-in serves the same few endpoints whatever the version; no later one is claimed, so
 * that a client turns on no feature of a later version.
 */
const SPEC_VERSIONS = ['v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9']

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
  #closed = false
  readonly #rooms: StandinRooms
  /** Each user's filters by id. Bound: `MAX_FILTERS_PER_USER` of `MAX_FILTER_BYTES` each, for the configured users and the service's. */
  readonly #filters = new Map<string, Map<string, Record<string, unknown>>>()
  #filterSeq = 0
  /** Every to-device event accepted, in order: for tests and the devnet's status line. */
  readonly received: Array<{ userId: string; deviceId: string; type: string; bytes: number }> = []

  constructor(o: StandinOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
    this.#rooms = new StandinRooms({
      serverName: o.serverName,
      nextSeq: () => ++this.#seq,
      now: this.#now,
      ...(o.print !== undefined ? { print: o.print } : {}),
      ...(o.maxRooms !== undefined ? { maxRooms: o.maxRooms } : {}),
      ...(o.maxEventsPerRoom !== undefined ? { maxEventsPerRoom: o.maxEventsPerRoom } : {}),
      ...(o.maxRoomEventBytes !== undefined ? { maxRoomEventBytes: o.maxRoomEventBytes } : {}),
      ...(o.maxMembersPerRoom !== undefined ? { maxMembersPerRoom: o.maxMembersPerRoom } : {})
    })
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

  /** The stored events of a room, oldest first, in the client format with `room_id` (what the server holds). */
  roomEvents(roomId: string): Array<Record<string, unknown>> {
    return this.#rooms.roomEvents(roomId)
  }

  /** The users joined to a room now. */
  joinedMembers(roomId: string): string[] {
    return this.#rooms.joinedMembers(roomId)
  }

  /** How many /sync requests are waiting in their long-poll now (tests wait for one before they send). */
  get waitingSyncs(): number {
    return this.#waiters.size
  }

  /** Listens with the deadlines of sealmix's own listeners (listenHttp); returns the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.#server = await listenHttp(
      { host, port },
      serveJson(
        async req => await this.#handle(req),
        { status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal error' } },
        // As a real homeserver's client-server API (the Matrix spec asks every server for it).
        { methods: ['GET', 'POST', 'PUT'], paths: /^\/_matrix\/client\// }
      )
    )
    return this.#server.port
  }

  async close(): Promise<void> {
    this.#closed = true
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
    { method: 'GET', path: '/_matrix/client/v3/sync', handler: async (req, url) => await this.#sync(req, url) },
    // The spec: /versions needs no access token.
    {
      method: 'GET',
      path: '/_matrix/client/versions',
      handler: async () => ({ status: 200, body: { versions: SPEC_VERSIONS, unstable_features: {} } })
    },
    {
      method: 'GET',
      path: '/_matrix/client/v3/capabilities',
      handler: async (req, url) => {
        this.#requester(req, url)
        return {
          status: 200,
          body: {
            capabilities: {
              'm.room_versions': { default: ROOM_VERSION, available: { [ROOM_VERSION]: 'stable' } },
              'm.change_password': { enabled: false },
              'm.set_displayname': { enabled: false },
              'm.set_avatar_url': { enabled: false },
              'm.3pid_changes': { enabled: false }
            }
          }
        }
      }
    },
    // No push rules: the client keeps its own defaults (matrix-js-sdk adds the spec's).
    {
      method: 'GET',
      path: /^\/_matrix\/client\/v3\/pushrules\/?$/,
      handler: async (req, url) => {
        this.#requester(req, url)
        return { status: 200, body: { global: { override: [], content: [], room: [], sender: [], underride: [] } } }
      }
    },
    {
      method: 'POST',
      path: /^\/_matrix\/client\/v3\/user\/([^/]+)\/filter$/,
      handler: async (req, url, [userId]) => await this.#postFilter(req, url, decodeURIComponent(userId!))
    },
    {
      method: 'GET',
      path: /^\/_matrix\/client\/v3\/user\/([^/]+)\/filter\/([^/]+)$/,
      handler: async (req, url, [userId, id]) => {
        const me = this.#actor(this.#requester(req, url)).userId
        if (decodeURIComponent(userId!) !== me)
          throw new HttpError(403, 'M_FORBIDDEN', 'Cannot get filters for other users')
        const filter = this.#filters.get(me)?.get(decodeURIComponent(id!))
        if (filter === undefined) throw new HttpError(404, 'M_NOT_FOUND', 'No such filter')
        return { status: 200, body: filter }
      }
    },
    {
      method: 'POST',
      path: '/_matrix/client/v3/createRoom',
      handler: async (req, url) => {
        const actor = this.#actor(this.#requester(req, url))
        const r = parseCreateRoom(jsonObject(await this.#body(req)))
        const roomId = this.#rooms.createRoom(actor, r)
        this.#wake()
        return { status: 200, body: { room_id: roomId } }
      }
    },
    {
      method: 'POST',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/invite$/,
      handler: async (req, url, [roomId]) => {
        const actor = this.#actor(this.#requester(req, url))
        const body = jsonObject(await this.#body(req))
        this.#rooms.invite(actor, decodeURIComponent(roomId!), userIdParam(body), optionalString(body, 'reason'))
        this.#wake()
        return { status: 200, body: {} }
      }
    },
    {
      method: 'POST',
      path: /^\/_matrix\/client\/v3\/(?:join\/([^/]+)|rooms\/([^/]+)\/join)$/,
      handler: async (req, url, [idOrAlias, roomIdOnly]) => {
        const actor = this.#actor(this.#requester(req, url))
        const body = jsonObject(await this.#body(req), true)
        const roomId =
          roomIdOnly !== '' ? decodeURIComponent(roomIdOnly!) : this.#rooms.resolve(decodeURIComponent(idOrAlias!))
        this.#rooms.join(actor, roomId, optionalString(body, 'reason'))
        this.#wake()
        return { status: 200, body: { room_id: roomId } }
      }
    },
    {
      method: 'POST',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/leave$/,
      handler: async (req, url, [roomId]) => {
        const actor = this.#actor(this.#requester(req, url))
        const body = jsonObject(await this.#body(req), true)
        this.#rooms.leave(actor, decodeURIComponent(roomId!), optionalString(body, 'reason'))
        this.#wake()
        return { status: 200, body: {} }
      }
    },
    {
      method: 'POST',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/kick$/,
      handler: async (req, url, [roomId]) => {
        const actor = this.#actor(this.#requester(req, url))
        const body = jsonObject(await this.#body(req))
        this.#rooms.kick(actor, decodeURIComponent(roomId!), userIdParam(body), optionalString(body, 'reason'))
        this.#wake()
        return { status: 200, body: {} }
      }
    },
    {
      method: 'GET',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/joined_members$/,
      handler: async (req, url, [roomId]) => ({
        status: 200,
        body: {
          joined: this.#rooms.joinedMembersOf(this.#actor(this.#requester(req, url)), decodeURIComponent(roomId!))
        }
      })
    },
    {
      method: 'GET',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/members$/,
      handler: async (req, url, [roomId]) => ({
        status: 200,
        body: {
          chunk: this.#rooms.memberEvents(
            this.#actor(this.#requester(req, url)),
            decodeURIComponent(roomId!),
            url.searchParams.get('membership') ?? undefined,
            url.searchParams.get('not_membership') ?? undefined
          )
        }
      })
    },
    {
      method: 'GET',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/state$/,
      handler: async (req, url, [roomId]) => ({
        status: 200,
        body: this.#rooms.stateEvents(this.#actor(this.#requester(req, url)), decodeURIComponent(roomId!))
      })
    },
    {
      method: 'PUT',
      path: /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/,
      handler: async (req, url, [roomId, type, txnId]) =>
        await this.#sendRoomEvent(
          req,
          this.#requester(req, url),
          decodeURIComponent(roomId!),
          decodeURIComponent(type!),
          decodeURIComponent(txnId!)
        )
    }
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

  /** Who acts in a room: the user a token stands for, the bot when it is the application service. */
  #actor(r: Requester): Actor {
    return r.kind === 'appservice' ? { userId: r.userId, bot: true } : { userId: r.user.userId, bot: false }
  }

  /** A request body, at most MAX_BODY bytes. */
  async #body(req: IncomingMessage): Promise<string> {
    const body = await readBody(req, MAX_BODY)
    if (body.kind !== 'body') throw new HttpError(413, 'M_TOO_LARGE', 'Request body too large')
    return body.text
  }

  /** Wake every /sync that waits: something may be new for it. */
  #wake(): void {
    for (const w of this.#waiters) w()
  }

  /**
   * A /sync: the device's to-device events and the user's rooms since `since` (the stand-in's one
   * event counter orders both, so `next_batch` is that counter). With a timeout it waits until
   * something is there for this user or the time is up, as a homeserver's long-poll does.
   */
  async #sync(req: IncomingMessage, url: URL): Promise<JsonAnswer> {
    const r = this.#requester(req, url)
    if (r.kind !== 'user')
      throw new HttpError(403, 'M_FORBIDDEN', 'The stand-in serves /sync to user access tokens only')
    const u = r.user
    const since = Number(url.searchParams.get('since') ?? '0') || 0
    const timeout = Math.min(30_000, Number(url.searchParams.get('timeout') ?? '0') || 0)
    const fullState = url.searchParams.get('full_state') === 'true'
    const limit = this.#timelineLimit(u.userId, url.searchParams.get('filter'))
    const answer = (): { empty: boolean; body: Record<string, unknown> } => {
      const events = (this.#events.get(`${u.userId}\0${u.deviceId}`) ?? []).filter(e => e.seq > since)
      const rooms = this.#rooms.sync(u.userId, u.deviceId, since, {
        fullState,
        ...(limit !== undefined ? { limit } : {})
      })
      const empty =
        events.length === 0 && [rooms.join, rooms.invite, rooms.leave].every(x => Object.keys(x).length === 0)
      return {
        empty,
        body: {
          next_batch: String(this.#seq),
          rooms,
          to_device: { events: events.map(e => ({ type: e.type, sender: e.sender, content: e.content })) }
        }
      }
    }
    // The long-poll's deadline is on the monotonic clock: `now` may be a test's frozen one.
    const deadline = performance.now() + timeout
    let a = answer()
    while (a.empty && !this.#closed && performance.now() < deadline) {
      await this.#wait(deadline - performance.now())
      a = answer()
    }
    return { status: 200, body: a.body }
  }

  /**
   * The one part of a /sync filter the stand-in applies: `room.timeline.limit`. The filter is
   * inline JSON or the id of one the user made; an unknown id is 400, as Synapse answers.
   */
  #timelineLimit(userId: string, filter: string | null): number | undefined {
    if (filter === null) return undefined
    let f: Record<string, unknown> | undefined
    if (filter.trimStart().startsWith('{')) {
      f = jsonObject(filter)
    } else {
      f = this.#filters.get(userId)?.get(filter)
      if (f === undefined) throw new HttpError(400, 'M_INVALID_PARAM', 'No such filter')
    }
    const room = f.room as { timeline?: { limit?: unknown } } | undefined
    const limit = room?.timeline?.limit
    return typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? limit : undefined
  }

  /**
   * The transaction memory of the endpoints that take a txnId (sendToDevice, rooms' send). The
   * scope is the application service (its as_token) or the user's device, and the endpoint the
   * path with event type and txnId (not the query string): Synapse keys its cache on (path,
   * appservice id) and (path, user, device). A completed transaction answers a retransmission
   * with the same response and does nothing; the body of a retransmission is not looked at
   * (Synapse neither). `act` runs only for a new transaction, without awaiting, so lookup, effect
   * and memory happen in one step; when it throws (a refusal) nothing is remembered.
   */
  #transaction(
    r: Requester,
    endpoint: string,
    act: () => Record<string, unknown>
  ): { status: number; body: Record<string, unknown> } {
    const scope = r.kind === 'appservice' ? 'as' : `user\0${r.user.userId}\0${r.user.deviceId}`
    const key = `${scope}\0${endpoint}`
    this.#expire()
    const done = this.#txns.get(key)
    if (done !== undefined) return done
    const answer = { atMs: this.#now(), status: 200, body: act() }
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

  /** One sendToDevice, as one transaction (see #transaction). */
  async #sendToDevice(
    req: IncomingMessage,
    r: Requester,
    type: string,
    txnId: string
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const text = await this.#body(req)
    return this.#transaction(r, `sendToDevice/${type}/${txnId}`, () => {
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
      this.#wake()
      return {}
    })
  }

  /**
   * One message event into a room, as one transaction (see #transaction): the sender must be
   * joined; a retransmission answers the first event id, even once the sender has left (Synapse's
   * cache wraps the whole request too). A user's own device gets the txnId back in the event's
   * `unsigned.transaction_id`, which is how a client matches its local echo.
   */
  async #sendRoomEvent(
    req: IncomingMessage,
    r: Requester,
    roomId: string,
    type: string,
    txnId: string
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const text = await this.#body(req)
    return this.#transaction(r, `rooms/${roomId}/send/${type}/${txnId}`, () => {
      const content = jsonObject(text)
      const txn = r.kind === 'user' ? `${r.user.userId}\0${r.user.deviceId}\0${txnId}` : undefined
      const eventId = this.#rooms.send(this.#actor(r), roomId, type, content, txn)
      this.#wake()
      return { event_id: eventId }
    })
  }

  /** `POST /user/{userId}/filter`: kept as given (the stand-in's /sync does not apply filters), for the user only. */
  async #postFilter(req: IncomingMessage, url: URL, userId: string): Promise<JsonAnswer> {
    const me = this.#actor(this.#requester(req, url)).userId
    if (userId !== me) throw new HttpError(403, 'M_FORBIDDEN', 'Can only create filters for local users')
    const text = await this.#body(req)
    if (Buffer.byteLength(text) > MAX_FILTER_BYTES) throw new HttpError(413, 'M_TOO_LARGE', 'Filter too large')
    const filter = jsonObject(text)
    const mine = this.#filters.get(me) ?? new Map<string, Record<string, unknown>>()
    const id = String(++this.#filterSeq)
    mine.set(id, filter)
    if (mine.size > MAX_FILTERS_PER_USER) mine.delete(mine.keys().next().value as string)
    this.#filters.set(me, mine)
    return { status: 200, body: { filter_id: id } }
  }

  /** `{ messages: { USER_ID: { DEVICE_ID | '*': { ...content } } } }`, or the spec's 400. */
  #parseMessages(text: string): Record<string, Record<string, Record<string, unknown>>> {
    const messages = jsonObject(text).messages
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
