/**
 * Where the ingress hands complete, authorized envelopes: the Matrix application-service sink
 * (`sendToDevice`, or a room event for a room batch, as the sealed bot user with the message id as
 * transaction id) or a callback for programs that embed the ingress.
 */
import { ROOM_EVENT_TYPE, SEALED_EVENT_TYPE } from '../../mix/index.ts'
import { type SinkResult, sendToDevice, sendToRoom } from './matrix.ts'

export type { SinkResult }

export interface Delivery {
  readonly userId: string
  readonly deviceId: string
  readonly envelope: Buffer
  /** Hex; stable across re-sends of one message. */
  readonly messageId: string
}

export interface RoomDelivery {
  readonly roomId: string
  /** The room batch (docs/PROTOCOL.md §15a). */
  readonly batch: Buffer
  readonly messageId: string
}

export interface Sink {
  deliver(d: Delivery): Promise<SinkResult>
  /** Post a room batch into its room; a sink without it refuses room messages. */
  deliverRoom?(d: RoomDelivery): Promise<SinkResult>
}

/** The room event content members' clients find in the room's timeline: only ciphertext. */
export interface SealedRoomContent {
  readonly batch: string
}

/** The to-device event content a recipient's client finds in /sync. */
export interface SealedContent {
  readonly envelope: string
  readonly message_id: string
}

export function matrixSink(o: { url: string; asToken: string; botUserId: string; timeoutMs?: number }): Sink {
  return {
    async deliver(d) {
      const content: SealedContent = { envelope: d.envelope.toString('base64'), message_id: d.messageId }
      return await sendToDevice(
        { url: o.url, token: o.asToken, timeoutMs: o.timeoutMs },
        o.botUserId,
        d.messageId,
        d.userId,
        d.deviceId,
        { ...content },
        SEALED_EVENT_TYPE
      )
    },
    async deliverRoom(d) {
      const content: SealedRoomContent = { batch: d.batch.toString('base64') }
      return await sendToRoom(
        { url: o.url, token: o.asToken, timeoutMs: o.timeoutMs },
        o.botUserId,
        d.messageId,
        d.roomId,
        ROOM_EVENT_TYPE,
        { ...content }
      )
    }
  }
}

export function callbackSink(f: (d: Delivery) => Promise<SinkResult> | SinkResult): Sink {
  return { deliver: async d => await f(d) }
}
