/**
 * An HTTP listener with the deadlines every sealmix listener keeps, so that a client that sends
 * slowly cannot hold a connection: the headers within 5 s, the whole request (body included)
 * within `requestTimeoutMs` (Node answers 408 and closes; checked every second rather than Node's
 * default 30 s), an idle keep-alive connection closed after 5 s, and at most 4,096 connections.
 * An address it cannot bind is one error naming that address and the config key to change.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { bindProblem, RelayError } from './errors.ts'

/** The request deadline of the operations listeners and the ingress API. */
export const REQUEST_TIMEOUT_MS = 15_000
const HEADERS_TIMEOUT_MS = 5000
const KEEP_ALIVE_TIMEOUT_MS = 5000
/** How often Node checks the deadlines above. */
const DEADLINE_CHECK_MS = 1000
/** Bound: connections open at once on one listener. */
const MAX_CONNECTIONS = 4096

export interface HttpListener {
  readonly port: number
  /** Stop listening and close every connection, idle or not. */
  close(): Promise<void>
}

export interface ListenOptions {
  readonly host: string
  /** 0 picks a free port (see `port` of the result). */
  readonly port: number
  /** @default REQUEST_TIMEOUT_MS */
  readonly requestTimeoutMs?: number
  /** The config section this listener's address comes from (`metrics`, `api`, `listen`): named when it cannot bind. */
  readonly section?: string
  /**
   * The error for a listener that cannot bind, from its one-line problem (bindProblem).
   * @default RelayError RELAY_LISTEN_FAILED
   */
  readonly bindError?: (problem: string, cause: unknown) => Error
}

export async function listenHttp(
  o: ListenOptions,
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<HttpListener> {
  const requestTimeout = o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  // Node refuses a headers deadline later than the request's.
  const server: Server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_MS
    },
    handler
  )
  server.maxConnections = MAX_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    const failed = (e: unknown): void => {
      const problem = bindProblem(o.section, o.host, o.port, e)
      reject(o.bindError === undefined ? RelayError.LISTEN_FAILED(problem, e) : o.bindError(problem, e))
    }
    server.once('error', failed)
    server.listen(o.port, o.host, () => {
      server.off('error', failed)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}
