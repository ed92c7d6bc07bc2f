/**
 * A real Matrix client (matrix-js-sdk) in Node, for tests against the stand-in homeserver: what a
 * chat client would see of it. No end-to-end crypto is set up (the stand-in serves no keys), and
 * the SDK's logging is silenced for the rest of the process once a client starts (a stopped
 * client still logs as its last requests end, so it is not turned back on); a sync error is not
 * lost for that: it fails `start` or the wait that was pending.
 */
import {
  ClientEvent,
  createClient,
  EventTimeline,
  type MatrixClient,
  type MatrixEvent,
  type Room,
  RoomEvent,
  SyncState
} from 'matrix-js-sdk'
import { logger } from 'matrix-js-sdk/lib/logger.js'

/**
 * The SDK's global logger: a loglevel logger (whose level and factory the SDK's type does not
 * show). Each child logger (`getChild`, made as a client and its parts start) holds a level of its
 * own but takes its parent's method factory, so a factory that writes nothing silences them all.
 */
const sdkLogger = logger as unknown as {
  methodFactory: (...a: unknown[]) => (...b: unknown[]) => void
  setLevel(level: 'silent'): void
}

function silenceSdk(): void {
  sdkLogger.methodFactory = () => () => undefined
  sdkLogger.setLevel('silent')
}

/** One event of the watched type as the client's live timeline received it. */
export interface ObservedEvent {
  readonly roomId: string
  readonly eventId: string
  readonly type: string
  readonly sender: string
  readonly content: Record<string, unknown>
  /**
   * Each member's membership in the room's state at this event, as the SDK holds it when it adds
   * the event to the live timeline (the state with every earlier event of the timeline applied).
   */
  readonly membershipAt: Readonly<Record<string, string>>
  /** The SDK's own record of the sender at the event (`event.sender`), its membership then. */
  readonly senderMembership: string | undefined
}

export interface MatrixTestClient {
  readonly client: MatrixClient
  /** The watched events received so far, in order. */
  readonly events: readonly ObservedEvent[]
  /** Whether `userId` was joined to the event's room at that event. */
  joinedAt(e: ObservedEvent, userId: string): boolean
  /** The first received event (or the next to arrive) that `match` accepts; fails past `ms` or on a sync error. */
  waitForEvent(match: (e: ObservedEvent) => boolean, what: string, ms?: number): Promise<ObservedEvent>
  stop(): Promise<void>
}

export interface MatrixClientOptions {
  readonly baseUrl: string
  readonly accessToken: string
  readonly userId: string
  readonly deviceId: string
  /** The event type whose arrivals are recorded. */
  readonly eventType: string
  /** How long `start` waits for the first sync (state PREPARED). @default 10 s */
  readonly preparedMs?: number
}

/** A started client, its first sync done (state PREPARED). */
export async function startMatrixClient(o: MatrixClientOptions): Promise<MatrixTestClient> {
  silenceSdk()
  const client = createClient({
    baseUrl: o.baseUrl,
    accessToken: o.accessToken,
    userId: o.userId,
    deviceId: o.deviceId
  })
  const events: ObservedEvent[] = []
  const waiting = new Set<{ match: (e: ObservedEvent) => boolean; resolve: (e: ObservedEvent) => void }>()
  let failure: Error | undefined
  const failed = new Set<(e: Error) => void>()

  const onTimeline = (
    event: MatrixEvent,
    room: Room | undefined,
    toStartOfTimeline: boolean | undefined,
    removed: boolean,
    data: { liveEvent?: boolean; timeline: EventTimeline }
  ): void => {
    // Only events added at the live end: there the timeline's forward state is the state at the
    // event. An event paginated in at the start, or removed, says nothing of that.
    if (room === undefined || toStartOfTimeline === true || removed || event.getType() !== o.eventType) return
    if (data.timeline !== room.getLiveTimeline()) return
    const state = data.timeline.getState(EventTimeline.FORWARDS)
    const membershipAt: Record<string, string> = {}
    for (const m of state?.getMembers() ?? []) membershipAt[m.userId] = m.membership ?? 'leave'
    const seen: ObservedEvent = {
      roomId: room.roomId,
      eventId: event.getId()!,
      type: event.getType(),
      sender: event.getSender()!,
      content: event.getContent(),
      membershipAt,
      senderMembership: event.sender?.membership
    }
    events.push(seen)
    for (const w of waiting) {
      if (w.match(seen)) {
        waiting.delete(w)
        w.resolve(seen)
      }
    }
  }
  client.on(RoomEvent.Timeline, onTimeline)

  const stop = async (): Promise<void> => {
    client.off(RoomEvent.Timeline, onTimeline)
    client.stopClient()
  }

  const prepared = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no PREPARED sync state in time')), o.preparedMs ?? 10_000)
    client.on(ClientEvent.Sync, (state, _prev, data) => {
      if (state === SyncState.Prepared) {
        clearTimeout(t)
        resolve()
      } else if (state === SyncState.Error) {
        failure = data?.error ?? new Error('sync failed')
        clearTimeout(t)
        reject(failure)
        for (const f of failed) f(failure)
      }
    })
  })
  try {
    await client.startClient({ initialSyncLimit: 20 })
    await prepared
  } catch (e) {
    await stop()
    throw e
  }

  return {
    client,
    events,
    joinedAt: (e, userId) => e.membershipAt[userId] === 'join',
    waitForEvent: async (match, what, ms = 10_000) => {
      const already = events.find(match)
      if (already !== undefined) return already
      if (failure !== undefined) throw failure
      return await new Promise<ObservedEvent>((resolve, reject) => {
        const w = {
          match,
          resolve: (e: ObservedEvent): void => {
            clearTimeout(t)
            failed.delete(fail)
            resolve(e)
          }
        }
        const fail = (err: Error): void => {
          clearTimeout(t)
          waiting.delete(w)
          reject(err)
        }
        const t = setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), ms)
        waiting.add(w)
        failed.add(fail)
      })
    },
    stop
  }
}
