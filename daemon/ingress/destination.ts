/**
 * What a SubmitRequest's kind decides at the ingress (docs/PROTOCOL.md §15, §15a): where its
 * authorization key is looked up, whether it can be delivered here, and how. Kind 1 goes to a
 * local device (`sendToDevice`), kind 2 into a room (a room event, posted as the bot).
 */
import { type DestinationAuth, KIND_ROOM, parseRoomBatch, type SubmitRequest, userIdDomain } from '../../mix/index.ts'
import type { Sink, SinkResult } from './sink.ts'
import type { IngressStore } from './store.ts'

export interface Destination {
  /** The keys that may authorize it now (checkDelivery's lookup). */
  lookup(nowMs: number): DestinationAuth | undefined
  /** Why it cannot be delivered here, asked once authorization has done its constant work; or null. */
  readonly problem: 'unknown_destination' | 'malformed' | null
  deliver(sink: Sink, messageId: string): Promise<SinkResult>
}

export function destinationOf(req: SubmitRequest, store: IngressStore, serverName: string): Destination {
  const dest = req.dest
  if (req.kind === KIND_ROOM)
    return {
      lookup: now => store.lookupRoom(dest, now),
      // Only a batch that every member can parse is posted: a room's history keeps what is posted.
      problem: parseRoomBatch(req.envelope).ok ? null : 'malformed',
      deliver: async (sink, messageId) =>
        sink.deliverRoom === undefined
          ? 'refused'
          : await sink.deliverRoom({ roomId: dest, batch: req.envelope, messageId })
    }
  const slash = dest.lastIndexOf('/')
  const userId = dest.slice(0, slash)
  return {
    lookup: now => store.lookup(dest, now),
    problem: slash < 0 || userIdDomain(userId) !== serverName ? 'unknown_destination' : null,
    deliver: async (sink, messageId) =>
      await sink.deliver({ userId, deviceId: dest.slice(slash + 1), envelope: req.envelope, messageId })
  }
}
