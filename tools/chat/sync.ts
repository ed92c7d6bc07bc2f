/**
 * A Matrix `/sync` read two ways: its to-device part, how the demo recipient (`sealmix listen`)
 * collects the sealed envelopes that the ingress delivered to its device; and with it the rooms'
 * part, the timeline events of the rooms the user is in and each room's membership as far as the
 * sync tells.
 */
import { ClientError } from '../../client/index.ts'
import { type HomeserverAuth, homeserverCall } from '../../daemon/index.ts'

export interface ToDeviceEvent {
  readonly type: string
  readonly sender: string
  readonly content: Record<string, unknown>
}

/** A room event of a /sync's timeline, with the room it came in (the sync's events carry no `room_id`). */
export interface RoomTimelineEvent {
  readonly roomId: string
  readonly eventId: string
  readonly type: string
  readonly sender: string
  readonly content: Record<string, unknown>
  readonly originServerTs: number
  /** Present on state events (an m.room.member event's is the user it is about). */
  readonly stateKey?: string
}

/** What one `/sync` gave: to-device events, room timelines, and which rooms the user is in. */
export interface SyncAll {
  readonly nextBatch: string
  readonly toDevice: ToDeviceEvent[]
  /**
   * The timeline events of the rooms the user is joined to, then of those they left since
   * `since` (up to their leave), each room's in order.
   */
  readonly roomEvents: RoomTimelineEvent[]
  /**
   * Per room of the sync (joined, invited, left), each user's membership (`join`, `invite`,
   * `leave`, `ban`, `knock`) as the sync's m.room.member events tell it: the state, then the
   * timeline in order, so the last word wins. An incremental sync tells only what changed.
   */
  readonly members: Record<string, Record<string, string>>
  readonly rooms: { readonly joined: string[]; readonly invited: string[]; readonly left: string[] }
}

async function sync(
  a: HomeserverAuth,
  since: string | undefined,
  timeoutMs: number,
  filter?: string
): Promise<Record<string, unknown>> {
  const q = new URLSearchParams({
    timeout: String(timeoutMs),
    ...(since !== undefined ? { since } : {}),
    ...(filter !== undefined ? { filter } : {})
  })
  const r = await homeserverCall(
    { ...a, timeoutMs: timeoutMs + (a.timeoutMs ?? 10_000) },
    'GET',
    `/_matrix/client/v3/sync?${q.toString()}`
  )
  if (r.kind === 'unreachable')
    throw new ClientError('CLIENT_HOMESERVER', 'the homeserver did not answer GET /_matrix/client/v3/sync', {
      cause: r.cause
    })
  if (r.status !== 200) throw new ClientError('CLIENT_HOMESERVER', `sync answered ${r.status}`)
  return r.json
}

function toDeviceOf(json: Record<string, unknown>): ToDeviceEvent[] {
  const td = json.to_device as { events?: unknown } | undefined
  return Array.isArray(td?.events)
    ? (td.events as ToDeviceEvent[]).filter(e => typeof e?.type === 'string' && typeof e.content === 'object')
    : []
}

/** The to-device events of one `/sync` call, and the token for the next one. */
export async function syncToDevice(
  a: HomeserverAuth,
  since: string | undefined,
  timeoutMs = 0
): Promise<{ nextBatch: string; events: ToDeviceEvent[] }> {
  const json = await sync(a, since, timeoutMs)
  return { nextBatch: String(json.next_batch ?? since ?? ''), events: toDeviceOf(json) }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The well-formed events of a section's `{events: [...]}`: a malformed one is skipped, not trusted. */
function eventsOf(section: unknown): Array<Record<string, unknown>> {
  const events = isObject(section) ? section.events : undefined
  return Array.isArray(events)
    ? events.filter((e): e is Record<string, unknown> => isObject(e) && typeof e.type === 'string')
    : []
}

/**
 * One `/sync` call, all of it sealmix reads: the to-device events, the rooms' timeline events and
 * memberships. `filter` is a filter id or inline filter JSON, as the spec's `filter` parameter.
 */
export async function syncAll(
  a: HomeserverAuth,
  since: string | undefined,
  timeoutMs = 0,
  filter?: string
): Promise<SyncAll> {
  const json = await sync(a, since, timeoutMs, filter)
  const rooms = isObject(json.rooms) ? json.rooms : {}
  const section = (name: string): Record<string, unknown> => (isObject(rooms[name]) ? rooms[name] : {})
  const roomEvents: RoomTimelineEvent[] = []
  const members: Record<string, Record<string, string>> = {}
  const fold = (roomId: string, events: Array<Record<string, unknown>>): void => {
    const m = members[roomId] ?? {}
    members[roomId] = m
    for (const e of events) {
      const membership = isObject(e.content) ? e.content.membership : undefined
      if (e.type === 'm.room.member' && typeof e.state_key === 'string' && typeof membership === 'string')
        m[e.state_key] = membership
    }
  }
  for (const name of ['join', 'leave']) {
    for (const [roomId, room] of Object.entries(section(name))) {
      if (!isObject(room)) continue
      const timeline = eventsOf(room.timeline)
      fold(roomId, [...eventsOf(room.state), ...timeline])
      for (const e of timeline) {
        if (typeof e.event_id !== 'string' || typeof e.sender !== 'string' || !isObject(e.content)) continue
        roomEvents.push({
          roomId,
          eventId: e.event_id,
          type: e.type as string,
          sender: e.sender,
          content: e.content,
          originServerTs: typeof e.origin_server_ts === 'number' ? e.origin_server_ts : 0,
          ...(typeof e.state_key === 'string' ? { stateKey: e.state_key } : {})
        })
      }
    }
  }
  for (const [roomId, room] of Object.entries(section('invite')))
    if (isObject(room)) fold(roomId, eventsOf(room.invite_state))
  return {
    nextBatch: String(json.next_batch ?? since ?? ''),
    toDevice: toDeviceOf(json),
    roomEvents,
    members,
    rooms: {
      joined: Object.keys(section('join')),
      invited: Object.keys(section('invite')),
      left: Object.keys(section('leave'))
    }
  }
}
