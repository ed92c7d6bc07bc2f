/**
 * The messages between a page and the SDK running in its Web Worker (worker-host.ts, worker-client.ts).
 * Only plain data crosses: hex and base64 strings, numbers, and a message's text. Requests carry an
 * id that their answer repeats; events carry none.
 */
import type { LatencyStages } from '../latency.ts'

/** What the worker needs to run a client: a profile (the schema of client/profile.ts) and where to keep state. */
export interface WorkerInit {
  /** A client profile following directory authorities (ProfileSchema). */
  readonly profile: unknown
  /** The IndexedDB database (the `level` location) the client's state is kept in. */
  readonly storeName: string
  /** Drop and loop cover. @default true */
  readonly cover?: boolean
}

export type WorkerRequest =
  | { readonly id: number; readonly op: 'init'; readonly init: WorkerInit }
  /** Seal `text` to the device of a contact card (ContactSchema) and queue it. */
  | { readonly id: number; readonly op: 'send'; readonly contact: unknown; readonly text: string }
  /** Open a sealed envelope (base64) that the app's Matrix sync received for this device. */
  | { readonly id: number; readonly op: 'open'; readonly envelope: string }
  /** Write what waits to the store and stop the client. */
  | { readonly id: number; readonly op: 'close' }

export type WorkerAnswer =
  | { readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string }

/** A verified message as the page sees it. */
export interface ReceivedMessage {
  readonly from: string
  readonly deviceId: string
  readonly contentType: number
  /** The content as UTF-8 text (a chat message). */
  readonly text: string
  /** Every verification step passed (certificate chain, signature, recipient binding). */
  readonly verified: true
}

/** What the page is shown: the client's counters, its link, and the network document in use. */
export interface WorkerStatus {
  readonly connected: boolean
  readonly waitingFor: string | null
  readonly pending: number
  readonly epoch: number
  readonly relays: number
  readonly ingresses: number
  readonly stats: Readonly<Record<string, number>>
}

export type WorkerEvent =
  | { readonly event: 'ready'; readonly userId: string; readonly deviceId: string }
  | { readonly event: 'up' | 'down' | 'routable' }
  | { readonly event: 'waiting'; readonly reason: string }
  | { readonly event: 'sent'; readonly messageId: string; readonly index: number; readonly attempt: number }
  /** `status`: ACK_STATUS (0 received, 1 delivered, 2 refused, 3 try later), as the SDK's 'acked'. */
  | { readonly event: 'acked'; readonly messageId: string; readonly index: number; readonly status: number }
  /**
   * As the SDK's 'delivered': `stages`, where `latencyMs` went (client/latency.ts; absent for a
   * message taken back from the store), `attempts` and the `epochs` begun meanwhile.
   */
  | {
      readonly event: 'delivered'
      readonly messageId: string
      readonly latencyMs: number
      readonly stages?: LatencyStages
      readonly attempts?: number
      readonly epochs?: number
    }
  | { readonly event: 'failed'; readonly messageId: string; readonly code: string }
  | { readonly event: 'received'; readonly message: ReceivedMessage }
  | { readonly event: 'rejected'; readonly code: string }
  /** An envelope opened before, handed in again: not shown twice. */
  | { readonly event: 'duplicate' }
  /** A write to IndexedDB failed (it is tried again): a full quota, say. */
  | { readonly event: 'store_failed'; readonly code: string }
  | { readonly event: 'status'; readonly status: WorkerStatus }
  /**
   * Start-up is waiting for something (a document, a certificate); it goes on retrying. `problem`:
   * why the last try failed (a server that did not answer, a refusal of the browser such as CORS).
   */
  | { readonly event: 'booting'; readonly step: string; readonly problem?: string }

export type WorkerEventName = WorkerEvent['event']

export const isAnswer = (m: unknown): m is WorkerAnswer =>
  typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'number' && 'ok' in m
