/**
 * The rooms of the stand-in homeserver (tools/devnet/standin-homeserver.ts serves them over HTTP):
 * a room is its list of events and the state they make, shaped as the Matrix client-server API v3
 * says, so that a real client library (matrix-js-sdk) syncs against it. Who may do what is checked
 * as a homeserver checks it: membership, join rules, power levels (defaults as Synapse creates
 * them) and history visibility (which events a user may see, with Synapse's rules). Rooms live on
 * this one server: there is no federation, and a room's version is 10.
 */
import { randomBytes } from 'node:crypto'

/** A refusal, answered as the spec's error body `{errcode, error}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string
  ) {
    super(message)
  }
}

/** Who acts. */
export interface Actor {
  readonly userId: string
  /** The application service acting as `userId`: printed as the bot, whose real sender is sealed. */
  readonly bot: boolean
}

export interface RoomsOptions {
  readonly serverName: string
  /** The homeserver's event counter, shared with to-device events: one `since` orders both. */
  readonly nextSeq: () => number
  readonly now: () => number
  readonly print?: (line: string) => void
  /** Rooms at once (never deleted, as on Synapse); beyond it createRoom is refused. @default 1000 */
  readonly maxRooms?: number
  /** Events kept per room; the oldest are folded into the room's base state beyond it. @default 10000 */
  readonly maxEventsPerRoom?: number
  /** Bytes of event JSON kept per room, likewise. @default 4 MiB (so at most 4 GiB over 1000 rooms) */
  readonly maxRoomEventBytes?: number
  /** Users with a membership (any: join, invite, leave, ban) per room; beyond it invites and joins are refused. @default 1000 */
  readonly maxMembersPerRoom?: number
}

/** A stored event: the client format without `room_id` and `unsigned`, which are added when served. */
interface Stored {
  readonly seq: number
  readonly event_id: string
  readonly type: string
  readonly sender: string
  readonly origin_server_ts: number
  readonly content: Record<string, unknown>
  readonly state_key?: string
  /** The state event this one replaces: served as `unsigned.prev_content`, `prev_sender`, `replaces_state`. */
  readonly prev?: { readonly content: Record<string, unknown>; readonly sender: string; readonly event_id: string }
  /** `userId\0deviceId\0txnId` of a user's own send: only that device gets `unsigned.transaction_id`. */
  readonly txn?: string
  readonly bytes: number
}

type State = Map<string, Stored>

interface Room {
  readonly roomId: string
  /** Oldest first. Bound: `maxEventsPerRoom` events and `maxRoomEventBytes` bytes. */
  readonly events: Stored[]
  bytes: number
  /** The state before `events[0]`: what the dropped events made. */
  readonly base: State
  /** The current state. Bound: a few fixed types, the createRoom's initial_state (at most 100) and `maxMembersPerRoom` members. */
  readonly state: State
  /** The seq of the newest dropped event (0 if none): a sync from before it has a gap (`limited`). */
  droppedSeq: number
}

export type Preset = 'private_chat' | 'trusted_private_chat' | 'public_chat'

export interface CreateRoomRequest {
  readonly name?: string
  readonly topic?: string
  readonly invite?: readonly string[]
  readonly preset?: Preset
  readonly visibility?: 'public' | 'private'
  readonly room_alias_name?: string
  readonly is_direct?: boolean
  readonly creation_content?: Record<string, unknown>
  readonly initial_state?: ReadonlyArray<{ type: string; state_key?: string; content: Record<string, unknown> }>
  readonly power_level_content_override?: Record<string, unknown>
  readonly room_version?: string
}

/** A room's part of one /sync for one user. */
export interface RoomsSync {
  readonly join: Record<string, unknown>
  readonly invite: Record<string, unknown>
  readonly leave: Record<string, unknown>
}

export const ROOM_VERSION = '10'
const MAX_ROOMS = 1000
const MAX_EVENTS_PER_ROOM = 10_000
const MAX_ROOM_EVENT_BYTES = 4 << 20
const MAX_MEMBERS_PER_ROOM = 1000
/** initial_state entries one createRoom may carry. */
const MAX_INITIAL_STATE = 100
/** The spec's bound on an event: 65536 bytes of JSON (Synapse answers 413 M_TOO_LARGE beyond). */
const MAX_EVENT_BYTES = 65_536
/** How many users `summary['m.heroes']` names (the spec: up to 5). */
const HEROES = 5
/** State a user sees while invited (Synapse's default `room_prejoin_state`), besides their own membership. */
const PREJOIN_STATE = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.name',
  'm.room.topic'
]
/** Synapse's MEMBERSHIP_PRIORITY: earlier is "more joined". */
const MEMBERSHIP_PRIORITY = ['join', 'invite', 'knock', 'leave', 'ban']

export const USER_ID = /^@[^:\s]+:\S+$/
const ROOM_ID = /^![^:\s]+:\S+$/
const ALIAS = /^#[^:\s]+:\S+$/

const key = (type: string, stateKey: string): string => `${type}\0${stateKey}`
const memberKey = (userId: string): string => key('m.room.member', userId)
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined)

function membershipIn(state: State, userId: string): string {
  const m = state.get(memberKey(userId))?.content.membership
  return typeof m === 'string' ? m : 'leave'
}

function visibilityIn(state: State): string {
  const v = state.get(key('m.room.history_visibility', ''))?.content.history_visibility
  // The spec: a room without the event (or an unknown value) is treated as `shared`.
  return typeof v === 'string' && ['world_readable', 'shared', 'invited', 'joined'].includes(v) ? v : 'shared'
}

const VISIBILITY_ORDER = ['world_readable', 'shared', 'invited', 'joined']

/** 18 random letters, as Synapse makes the local part of a room id. */
function randomLetters(n: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
  return [...randomBytes(n)].map(b => letters[b % letters.length]).join('')
}

/** The JSON object of a request body, or the spec's 400 (an empty body is `{}` where `optional`). */
export function jsonObject(text: string, optional = false): Record<string, unknown> {
  if (optional && text.trim() === '') return {}
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new HttpError(400, 'M_NOT_JSON', 'Content not JSON')
  }
  if (!isObject(body)) throw new HttpError(400, 'M_BAD_JSON', 'Content must be a JSON object')
  return body
}

/** A user id a body names (`user_id` of invite and kick), or the spec's 400. */
export function userIdParam(body: Record<string, unknown>): string {
  const u = body.user_id
  if (u === undefined) throw new HttpError(400, 'M_MISSING_PARAM', 'Missing params: user_id')
  if (typeof u !== 'string' || !USER_ID.test(u)) throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid user_id')
  return u
}

/** An optional string field (`reason`, `name`, `topic`), or 400 M_BAD_JSON. */
export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field]
  if (v !== undefined && typeof v !== 'string') throw new HttpError(400, 'M_BAD_JSON', `${field} must be a string`)
  return v
}

/**
 * A createRoom body, or the spec's 400. Contents are kept well under the spec's 64 KiB per event,
 * so that no event of a room being created can be refused halfway.
 */
export function parseCreateRoom(body: Record<string, unknown>): CreateRoomRequest {
  const small = (content: unknown, what: string): Record<string, unknown> => {
    if (!isObject(content)) throw new HttpError(400, 'M_BAD_JSON', `${what} must be an object`)
    if (Buffer.byteLength(JSON.stringify(content)) > MAX_EVENT_BYTES - 4096)
      throw new HttpError(413, 'M_TOO_LARGE', `${what} is too large for an event`)
    return content
  }
  const name = optionalString(body, 'name')
  const topic = optionalString(body, 'topic')
  if (name !== undefined) small({ name }, 'name')
  if (topic !== undefined) small({ topic }, 'topic')
  const invite = body.invite
  if (invite !== undefined && (!Array.isArray(invite) || !invite.every(u => typeof u === 'string' && USER_ID.test(u))))
    throw new HttpError(400, 'M_INVALID_PARAM', 'invite must be a list of user ids')
  const preset = body.preset
  if (preset !== undefined && !['private_chat', 'trusted_private_chat', 'public_chat'].includes(preset as string))
    throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid preset')
  const visibility = body.visibility
  if (visibility !== undefined && visibility !== 'public' && visibility !== 'private')
    throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid visibility')
  const alias = optionalString(body, 'room_alias_name')
  if (alias !== undefined && !/^[^:\s#]+$/.test(alias))
    throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid characters in room alias')
  const isDirect = body.is_direct
  if (isDirect !== undefined && typeof isDirect !== 'boolean')
    throw new HttpError(400, 'M_BAD_JSON', 'is_direct must be a boolean')
  const version = body.room_version
  if (version !== undefined && version !== ROOM_VERSION)
    throw new HttpError(400, 'M_UNSUPPORTED_ROOM_VERSION', `The stand-in makes rooms of version ${ROOM_VERSION} only`)
  const initial = body.initial_state
  if (initial !== undefined && (!Array.isArray(initial) || initial.length > MAX_INITIAL_STATE))
    throw new HttpError(400, 'M_BAD_JSON', `initial_state must be a list of at most ${MAX_INITIAL_STATE} events`)
  const initialState = (initial ?? []).map((s: unknown) => {
    if (!isObject(s) || typeof s.type !== 'string' || (s.state_key !== undefined && typeof s.state_key !== 'string'))
      throw new HttpError(400, 'M_BAD_JSON', 'each initial_state event needs a type, a content and a string state_key')
    // Memberships and the create event are the server's to write.
    if (s.type === 'm.room.member' || s.type === 'm.room.create')
      throw new HttpError(400, 'M_INVALID_PARAM', `initial_state cannot hold ${s.type}`)
    return {
      type: s.type,
      state_key: s.state_key as string | undefined,
      content: small(s.content, 'an initial_state content')
    }
  })
  return {
    ...(name !== undefined ? { name } : {}),
    ...(topic !== undefined ? { topic } : {}),
    ...(invite !== undefined ? { invite: invite as string[] } : {}),
    ...(preset !== undefined ? { preset: preset as Preset } : {}),
    ...(visibility !== undefined ? { visibility } : {}),
    ...(alias !== undefined ? { room_alias_name: alias } : {}),
    ...(isDirect !== undefined ? { is_direct: isDirect } : {}),
    ...(body.creation_content !== undefined
      ? { creation_content: small(body.creation_content, 'creation_content') }
      : {}),
    ...(body.power_level_content_override !== undefined
      ? { power_level_content_override: small(body.power_level_content_override, 'power_level_content_override') }
      : {}),
    initial_state: initialState
  }
}

export class StandinRooms {
  readonly #o: RoomsOptions
  /** Bound: `maxRooms`. */
  readonly #rooms = new Map<string, Room>()
  /** Local aliases (`room_alias_name` at createRoom) -> room id. Bound: one per room. */
  readonly #aliases = new Map<string, string>()
  /** Every room in which a user has a membership, so a /sync looks at those only. Bound: rooms x members. */
  readonly #byUser = new Map<string, Set<string>>()

  constructor(o: RoomsOptions) {
    this.#o = o
  }

  /** The stored events of a room, oldest first, in the client format with `room_id` (tests and audits). */
  roomEvents(roomId: string): Array<Record<string, unknown>> {
    const room = this.#rooms.get(roomId)
    if (room === undefined) return []
    return room.events.map(e => this.#client(e, { roomId, viewer: undefined }))
  }

  /** The users whose membership in the room is `join` now. */
  joinedMembers(roomId: string): string[] {
    const room = this.#rooms.get(roomId)
    if (room === undefined) return []
    return this.#members(room.state, 'join')
  }

  createRoom(actor: Actor, r: CreateRoomRequest): string {
    if (this.#rooms.size >= (this.#o.maxRooms ?? MAX_ROOMS))
      throw new HttpError(403, 'M_FORBIDDEN', `The stand-in holds at most ${this.#o.maxRooms ?? MAX_ROOMS} rooms`)
    const preset: Preset = r.preset ?? (r.visibility === 'public' ? 'public_chat' : 'private_chat')
    const invites = [...new Set(r.invite ?? [])].filter(u => u !== actor.userId)
    if (invites.length + 1 > (this.#o.maxMembersPerRoom ?? MAX_MEMBERS_PER_ROOM))
      throw new HttpError(403, 'M_FORBIDDEN', 'Too many invitees for the stand-in')
    const alias = r.room_alias_name !== undefined ? `#${r.room_alias_name}:${this.#o.serverName}` : undefined
    if (alias !== undefined && this.#aliases.has(alias))
      throw new HttpError(400, 'M_ROOM_IN_USE', 'Room alias already taken')
    let roomId: string
    do roomId = `!${randomLetters(18)}:${this.#o.serverName}`
    while (this.#rooms.has(roomId))
    const room: Room = { roomId, events: [], bytes: 0, base: new Map(), state: new Map(), droppedSeq: 0 }
    this.#rooms.set(roomId, room)
    if (alias !== undefined) this.#aliases.set(alias, roomId)
    const me = actor.userId
    const put = (type: string, content: Record<string, unknown>, stateKey = ''): void => {
      this.#append(room, actor, { type, content, state_key: stateKey })
    }
    // The order of the spec's createRoom: create, the creator's join, power levels, the
    // canonical alias, the preset's events, initial_state, name and topic, then the invites.
    // initial_state replaces the event of the same type and key that the preset or the default
    // power levels would send, as Synapse does, rather than sending both.
    const initial = new Map((r.initial_state ?? []).map(s => [key(s.type, s.state_key ?? ''), s.content]))
    const unlessInitial = (type: string, content: Record<string, unknown>): void => {
      if (!initial.has(key(type, ''))) put(type, content)
    }
    put('m.room.create', { ...r.creation_content, creator: me, room_version: ROOM_VERSION })
    put('m.room.member', { membership: 'join' }, me)
    const users: Record<string, number> = { [me]: 100 }
    if (preset === 'trusted_private_chat') for (const u of invites) users[u] = 100
    const pl = initial.get(key('m.room.power_levels', ''))
    put(
      'm.room.power_levels',
      pl ?? {
        users,
        users_default: 0,
        events: {
          'm.room.name': 50,
          'm.room.power_levels': 100,
          'm.room.history_visibility': 100,
          'm.room.canonical_alias': 50,
          'm.room.avatar': 50,
          'm.room.tombstone': 100,
          'm.room.server_acl': 100,
          'm.room.encryption': 100
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 50,
        historical: 100,
        ...r.power_level_content_override
      }
    )
    initial.delete(key('m.room.power_levels', ''))
    if (alias !== undefined) put('m.room.canonical_alias', { alias })
    unlessInitial('m.room.join_rules', { join_rule: preset === 'public_chat' ? 'public' : 'invite' })
    unlessInitial('m.room.history_visibility', { history_visibility: 'shared' })
    if (preset !== 'public_chat') unlessInitial('m.room.guest_access', { guest_access: 'can_join' })
    for (const s of r.initial_state ?? [])
      if (initial.has(key(s.type, s.state_key ?? ''))) put(s.type, s.content, s.state_key ?? '')
    if (r.name !== undefined) put('m.room.name', { name: r.name })
    if (r.topic !== undefined) put('m.room.topic', { topic: r.topic })
    for (const u of invites)
      put('m.room.member', { membership: 'invite', ...(r.is_direct === true ? { is_direct: true } : {}) }, u)
    return roomId
  }

  /** The room an id or a local alias names, or 404 as Synapse answers a join to an unknown room. */
  resolve(roomIdOrAlias: string): string {
    if (ALIAS.test(roomIdOrAlias)) {
      const id = this.#aliases.get(roomIdOrAlias)
      if (id === undefined) throw new HttpError(404, 'M_NOT_FOUND', 'Room alias not found')
      return id
    }
    if (!ROOM_ID.test(roomIdOrAlias)) throw new HttpError(400, 'M_INVALID_PARAM', 'Invalid room id or alias')
    if (!this.#rooms.has(roomIdOrAlias)) throw new HttpError(404, 'M_NOT_FOUND', 'No known servers')
    return roomIdOrAlias
  }

  invite(actor: Actor, roomId: string, userId: string, reason?: string): void {
    const room = this.#joinedRoom(actor, roomId)
    if (this.#level(room, actor.userId) < this.#required(room, 'invite', 0))
      throw new HttpError(403, 'M_FORBIDDEN', "You don't have permission to invite users")
    const now = membershipIn(room.state, userId)
    if (now === 'join') throw new HttpError(403, 'M_FORBIDDEN', `${userId} is already in the room.`)
    if (now === 'ban') throw new HttpError(403, 'M_FORBIDDEN', `${userId} is banned from the room`)
    // Synapse makes no new event for an invite that changes nothing.
    if (now === 'invite') return
    this.#roomForMember(room, userId)
    this.#append(room, actor, {
      type: 'm.room.member',
      state_key: userId,
      content: { membership: 'invite', ...(reason !== undefined ? { reason } : {}) }
    })
  }

  /** Join when invited, when the room is public, or again when joined (no new event, as Synapse). */
  join(actor: Actor, roomId: string, reason?: string): void {
    const room = this.#rooms.get(roomId)
    if (room === undefined) throw new HttpError(404, 'M_NOT_FOUND', 'No known servers')
    const now = membershipIn(room.state, actor.userId)
    if (now === 'join') return
    if (now === 'ban') throw new HttpError(403, 'M_FORBIDDEN', 'You are banned from this room')
    const rule = room.state.get(key('m.room.join_rules', ''))?.content.join_rule
    if (now !== 'invite' && rule !== 'public')
      throw new HttpError(403, 'M_FORBIDDEN', 'You are not invited to this room.')
    this.#roomForMember(room, actor.userId)
    this.#append(room, actor, {
      type: 'm.room.member',
      state_key: actor.userId,
      content: { membership: 'join', ...(reason !== undefined ? { reason } : {}) }
    })
  }

  /** Leave a room joined, or decline an invite. */
  leave(actor: Actor, roomId: string, reason?: string): void {
    const room = this.#rooms.get(roomId)
    const now = room === undefined ? 'leave' : membershipIn(room.state, actor.userId)
    if (room === undefined || (now !== 'join' && now !== 'invite'))
      throw new HttpError(403, 'M_FORBIDDEN', `User ${actor.userId} is not in room ${roomId}`)
    this.#append(room, actor, {
      type: 'm.room.member',
      state_key: actor.userId,
      content: { membership: 'leave', ...(reason !== undefined ? { reason } : {}) }
    })
  }

  /** The auth rules' kick: the kicker's level at least `kick` and above the target's. */
  kick(actor: Actor, roomId: string, userId: string, reason?: string): void {
    const room = this.#joinedRoom(actor, roomId)
    const target = membershipIn(room.state, userId)
    if (target !== 'join' && target !== 'invite')
      throw new HttpError(403, 'M_FORBIDDEN', `The target user ${userId} is not in the room`)
    const mine = this.#level(room, actor.userId)
    // Kicking oneself is leaving, which needs no level.
    if (userId !== actor.userId && (mine < this.#required(room, 'kick', 50) || this.#level(room, userId) >= mine))
      throw new HttpError(403, 'M_FORBIDDEN', "You don't have permission to kick this user")
    this.#append(room, actor, {
      type: 'm.room.member',
      state_key: userId,
      content: { membership: 'leave', ...(reason !== undefined ? { reason } : {}) }
    })
  }

  /** A message event from a joined member with the event's power level; returns its event id. */
  send(actor: Actor, roomId: string, type: string, content: Record<string, unknown>, txn?: string): string {
    const room = this.#joinedRoom(actor, roomId)
    const pl = room.state.get(key('m.room.power_levels', ''))?.content
    const events = isObject(pl?.events) ? pl.events : {}
    const required = num(events[type]) ?? num(pl?.events_default) ?? 0
    if (this.#level(room, actor.userId) < required)
      throw new HttpError(403, 'M_FORBIDDEN', `You don't have permission to post ${type} events`)
    return this.#append(room, actor, { type, content, txn }).event_id
  }

  /** `GET /rooms/{roomId}/joined_members`: for members only. */
  joinedMembersOf(actor: Actor, roomId: string): Record<string, { display_name: string | null; avatar_url: null }> {
    const room = this.#joinedRoom(actor, roomId)
    const joined: Record<string, { display_name: string | null; avatar_url: null }> = {}
    for (const u of this.#members(room.state, 'join')) {
      const name = room.state.get(memberKey(u))?.content.displayname
      joined[u] = { display_name: typeof name === 'string' ? name : null, avatar_url: null }
    }
    return joined
  }

  /** `GET /rooms/{roomId}/members`: the current m.room.member events, for members only. */
  memberEvents(actor: Actor, roomId: string, membership?: string, notMembership?: string): unknown[] {
    const room = this.#joinedRoom(actor, roomId)
    return [...room.state.values()]
      .filter(e => e.type === 'm.room.member')
      .filter(e => membership === undefined || e.content.membership === membership)
      .filter(e => notMembership === undefined || e.content.membership !== notMembership)
      .map(e => this.#client(e, { roomId, viewer: undefined }))
  }

  /** `GET /rooms/{roomId}/state`: every current state event, for members only. */
  stateEvents(actor: Actor, roomId: string): unknown[] {
    const room = this.#joinedRoom(actor, roomId)
    return [...room.state.values()].map(e => this.#client(e, { roomId, viewer: undefined }))
  }

  /**
   * The rooms part of a /sync for one device since `since` (0: the first sync). A joined room
   * gives the events the user may see since then, and the state before them when the user was
   * not joined at `since`; a room joined since then (or at the first sync) gives every event the
   * user may see, as a first sync of that room would. Without a filter's `room.timeline.limit`
   * every such event is given (Synapse would give 10); `limited` is true when the limit cut
   * events or the room dropped some past its bound. An invite gives the
   * stripped state; a room left since then gives its events up to the leave. A room left before
   * `since`, or at the first sync, is not given (Synapse neither, without `include_leave`).
   * `fullState` gives every joined room with its state, as the spec's `full_state` asks.
   */
  sync(userId: string, deviceId: string, since: number, o: { fullState?: boolean; limit?: number } = {}): RoomsSync {
    const fullState = o.fullState === true
    const out: RoomsSync = { join: {}, invite: {}, leave: {} }
    const viewer = `${userId}\0${deviceId}\0`
    for (const roomId of this.#byUser.get(userId) ?? []) {
      const room = this.#rooms.get(roomId)!
      if (since > 0 && !fullState && (room.events.at(-1)?.seq ?? 0) <= since) continue
      const now = membershipIn(room.state, userId)
      if (now === 'invite') {
        const invite = room.state.get(memberKey(userId))!
        if (invite.seq <= since && !fullState) continue
        const stripped = [...PREJOIN_STATE.map(t => room.state.get(key(t, ''))), invite]
          .filter(e => e !== undefined)
          .map(e => ({ type: e.type, state_key: e.state_key, content: e.content, sender: e.sender }))
        out.invite[roomId] = { invite_state: { events: stripped } }
        continue
      }
      if (now !== 'join' && since === 0) continue
      let v = this.#view(room, userId, since, o.limit)
      const newly = since === 0 || v.atSince !== 'join' || v.joinedSince
      if (now === 'join' && newly && since > 0) v = this.#view(room, userId, 0, o.limit)
      const limited = v.cut || room.droppedSeq > (now === 'join' && newly ? 0 : since)
      const client = (e: Stored): Record<string, unknown> => this.#client(e, { roomId: undefined, viewer })
      const timeline = {
        events: v.timeline.map(client),
        limited,
        prev_batch: String(v.timeline.length > 0 ? v.timeline[0]!.seq - 1 : since)
      }
      if (now === 'join') {
        if (!newly && !limited && !fullState && v.timeline.length === 0) continue
        const members = [...room.state.values()].filter(e => e.type === 'm.room.member')
        const count = (m: string): number => members.filter(e => e.content.membership === m).length
        out.join[roomId] = {
          timeline,
          state: { events: newly || limited || fullState ? v.state.map(client) : [] },
          ephemeral: { events: [] },
          account_data: { events: [] },
          unread_notifications: { highlight_count: 0, notification_count: 0 },
          summary: {
            'm.heroes': members
              .filter(e => e.state_key !== userId && ['join', 'invite'].includes(e.content.membership as string))
              .slice(0, HEROES)
              .map(e => e.state_key),
            'm.joined_member_count': count('join'),
            'm.invited_member_count': count('invite')
          }
        }
      } else if (v.timeline.length > 0) {
        // Left or kicked since `since`: the timeline ends with the leave (a user sees their own).
        // The state only for a room joined and left within the window: an invite declined shows
        // no more than the invite did.
        const joinedInWindow = v.atSince !== 'join' && v.joinedSince
        out.leave[roomId] = {
          timeline,
          state: { events: joinedInWindow || limited ? v.state.map(client) : [] },
          account_data: { events: [] }
        }
      }
    }
    return out
  }

  /** The room, when the actor is joined to it; else 403 as Synapse answers (an unknown room too). */
  #joinedRoom(actor: Actor, roomId: string): Room {
    const room = this.#rooms.get(roomId)
    if (room === undefined || membershipIn(room.state, actor.userId) !== 'join')
      throw new HttpError(403, 'M_FORBIDDEN', `User ${actor.userId} not in room ${roomId}`)
    return room
  }

  /** Room for one more member (a user without a membership yet), or 403 at the bound. */
  #roomForMember(room: Room, userId: string): void {
    if (room.state.has(memberKey(userId))) return
    const n = [...room.state.values()].filter(e => e.type === 'm.room.member').length
    if (n >= (this.#o.maxMembersPerRoom ?? MAX_MEMBERS_PER_ROOM))
      throw new HttpError(403, 'M_FORBIDDEN', 'The stand-in room has reached its bound on members')
  }

  #members(state: State, membership: string): string[] {
    return [...state.values()]
      .filter(e => e.type === 'm.room.member' && e.content.membership === membership)
      .map(e => e.state_key!)
  }

  #level(room: Room, userId: string): number {
    const pl = room.state.get(key('m.room.power_levels', ''))?.content
    // The auth rules without a power_levels event: the creator 100, everyone else 0.
    if (pl === undefined) return room.state.get(key('m.room.create', ''))?.sender === userId ? 100 : 0
    const users = isObject(pl.users) ? pl.users : {}
    return num(users[userId]) ?? num(pl.users_default) ?? 0
  }

  #required(room: Room, action: 'invite' | 'kick', fallback: number): number {
    return num(room.state.get(key('m.room.power_levels', ''))?.content[action]) ?? fallback
  }

  #append(
    room: Room,
    actor: Actor,
    e: { type: string; content: Record<string, unknown>; state_key?: string; txn?: string }
  ): Stored {
    const prev = e.state_key !== undefined ? room.state.get(key(e.type, e.state_key)) : undefined
    const draft = {
      event_id: `$${randomBytes(32).toString('base64url')}`,
      type: e.type,
      sender: actor.userId,
      origin_server_ts: this.#o.now(),
      content: e.content,
      ...(e.state_key !== undefined ? { state_key: e.state_key } : {})
    }
    const bytes = Buffer.byteLength(JSON.stringify({ ...draft, room_id: room.roomId }))
    if (bytes > MAX_EVENT_BYTES) throw new HttpError(413, 'M_TOO_LARGE', 'Event too large')
    const stored: Stored = {
      seq: this.#o.nextSeq(),
      ...draft,
      bytes,
      ...(prev !== undefined ? { prev: { content: prev.content, sender: prev.sender, event_id: prev.event_id } } : {}),
      ...(e.txn !== undefined ? { txn: e.txn } : {})
    }
    room.events.push(stored)
    room.bytes += bytes
    if (e.state_key !== undefined) {
      room.state.set(key(e.type, e.state_key), stored)
      if (e.type === 'm.room.member') {
        const rooms = this.#byUser.get(e.state_key) ?? new Set()
        rooms.add(room.roomId)
        this.#byUser.set(e.state_key, rooms)
      }
    }
    while (
      room.events.length > (this.#o.maxEventsPerRoom ?? MAX_EVENTS_PER_ROOM) ||
      room.bytes > (this.#o.maxRoomEventBytes ?? MAX_ROOM_EVENT_BYTES)
    ) {
      const old = room.events.shift()!
      room.bytes -= old.bytes
      room.droppedSeq = old.seq
      if (old.state_key !== undefined) room.base.set(key(old.type, old.state_key), old)
    }
    this.#o.print?.(
      `homeserver ${this.#o.serverName}: room ${room.roomId} event ${e.type}, ${bytes} bytes, sent by ${actor.bot ? `the bot ${actor.userId} (the real sender is sealed inside)` : actor.userId}`
    )
    return stored
  }

  /**
   * What `userId` may see of the room after `since`: Synapse's rules (filter_events_for_client)
   * on the state before each event: a member at the event sees it; a user sees their own
   * membership events (the more joined of before and after counts, and leaving is always seen);
   * otherwise the history visibility at the event decides (`shared`: only while joined now;
   * `invited`: while invited at the event; `world_readable`: always).
   */
  #view(
    room: Room,
    userId: string,
    since: number,
    limit: number | undefined
  ): { timeline: Stored[]; state: Stored[]; atSince: string; joinedSince: boolean; cut: boolean } {
    const running: State = new Map(room.base)
    const joinedNow = membershipIn(room.state, userId) === 'join'
    let timeline: Stored[] = []
    let atSince: string | undefined
    let joinedSince = false
    for (const e of room.events) {
      const before = membershipIn(running, userId)
      if (e.seq > since) {
        atSince ??= before
        let membership = before
        const own = e.type === 'm.room.member' && e.state_key === userId
        if (own) {
          const after = typeof e.content.membership === 'string' ? e.content.membership : 'leave'
          if (after === 'join') joinedSince = true
          if (after === 'leave' && (before === 'join' || before === 'invite')) membership = 'join'
          else if (MEMBERSHIP_PRIORITY.indexOf(after) < MEMBERSHIP_PRIORITY.indexOf(before)) membership = after
        }
        let visibility = visibilityIn(running)
        if (e.type === 'm.room.history_visibility' && e.state_key === '') {
          // The event that changes the visibility is judged by the more permissive of old and new.
          const next = visibilityIn(new Map([[key(e.type, ''), e]]))
          if (VISIBILITY_ORDER.indexOf(next) < VISIBILITY_ORDER.indexOf(visibility)) visibility = next
        }
        const visible =
          membership === 'join' ||
          visibility === 'world_readable' ||
          (visibility === 'invited' && membership === 'invite') ||
          (visibility === 'shared' && joinedNow)
        if (visible) timeline.push(e)
      }
      if (e.state_key !== undefined) running.set(key(e.type, e.state_key), e)
    }
    atSince ??= membershipIn(running, userId)
    // A filter's timeline limit keeps the newest events; the state is then the state before the
    // first one kept, so that it covers what was cut.
    const cut = limit !== undefined && timeline.length > limit
    if (cut) timeline = timeline.slice(timeline.length - limit)
    const first = timeline[0]
    const last = timeline.at(-1)
    if (first === undefined || last === undefined)
      return { timeline, state: [...running.values()], atSince, joinedSince, cut }
    const before: State = new Map(room.base)
    const after: State = new Map(room.base)
    for (const e of room.events) {
      if (e.seq > last.seq) break
      if (e.state_key === undefined) continue
      if (e.seq < first.seq) before.set(key(e.type, e.state_key), e)
      after.set(key(e.type, e.state_key), e)
    }
    // The client applies `state` before the timeline, then the timeline. So, as Synapse's
    // _calculate_state: where the timeline sets a key, the state before it; where the timeline
    // leaves a key's final value unshown (an event hidden from this user, or cut), that value, so
    // that the state after the timeline is right (a hidden event's place cannot be).
    const shown = new Set(timeline)
    const state: Stored[] = []
    for (const [k, end] of after) {
      if (!shown.has(end)) state.push(end)
      else {
        const start = before.get(k)
        if (start !== undefined && !shown.has(start)) state.push(start)
      }
    }
    return { timeline, state, atSince, joinedSince, cut }
  }

  /** The client format: `room_id` outside /sync, `unsigned.age`, what a state event replaced, and the sender's own txnId. */
  #client(e: Stored, o: { roomId: string | undefined; viewer: string | undefined }): Record<string, unknown> {
    const unsigned: Record<string, unknown> = { age: Math.max(0, this.#o.now() - e.origin_server_ts) }
    if (e.prev !== undefined) {
      unsigned.prev_content = e.prev.content
      unsigned.prev_sender = e.prev.sender
      unsigned.replaces_state = e.prev.event_id
    }
    if (e.txn !== undefined && o.viewer !== undefined && e.txn.startsWith(o.viewer))
      unsigned.transaction_id = e.txn.slice(o.viewer.length)
    return {
      event_id: e.event_id,
      type: e.type,
      sender: e.sender,
      origin_server_ts: e.origin_server_ts,
      content: e.content,
      ...(e.state_key !== undefined ? { state_key: e.state_key } : {}),
      ...(o.roomId !== undefined ? { room_id: o.roomId } : {}),
      unsigned
    }
  }
}
