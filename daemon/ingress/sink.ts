/**
 * Where the ingress hands complete, authorized envelopes: the Matrix application-service sink
 * (`sendToDevice` as the sealed bot user, the message id as transaction id) or a callback for
 * programs that embed the ingress.
 */
import { SEALED_EVENT_TYPE } from '../../mix/index.ts'
import { type SinkResult, sendToDevice } from './matrix.ts'

export type { SinkResult }

export interface Delivery {
  readonly userId: string
  readonly deviceId: string
  readonly envelope: Buffer
  /** Hex; stable across re-sends of one message. */
  readonly messageId: string
}

export interface Sink {
  deliver(d: Delivery): Promise<SinkResult>
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
    }
  }
}

export function callbackSink(f: (d: Delivery) => Promise<SinkResult> | SinkResult): Sink {
  return { deliver: async d => await f(d) }
}
