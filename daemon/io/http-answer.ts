/**
 * JSON answers of the HTTP APIs: one way to write them, and one way to serve an async handler so
 * that a failure answers 500 and a connection already gone (a body cut off at its deadline) gets
 * nothing written.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface JsonAnswer {
  readonly status: number
  readonly body: unknown
  /** Headers besides content-type (written after it). */
  readonly headers?: Readonly<Record<string, string>>
}

export function answerJson(res: ServerResponse, a: JsonAnswer): void {
  res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(JSON.stringify(a.body))
}

/**
 * A request handler that answers what `route` gives, or `internal` when it throws. `route` gives
 * null when there is nothing to answer: its connection is gone.
 */
export function serveJson(
  route: (req: IncomingMessage) => Promise<JsonAnswer | null>,
  internal: JsonAnswer
): (req: IncomingMessage, res: ServerResponse) => void {
  const answer = (res: ServerResponse, a: JsonAnswer): void => {
    if (!res.headersSent && !res.destroyed) answerJson(res, a)
  }
  return (req, res) => {
    route(req).then(
      a => {
        if (a !== null) answer(res, a)
      },
      () => answer(res, internal)
    )
  }
}
