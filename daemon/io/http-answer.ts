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

export function answerJson(res: ServerResponse, a: JsonAnswer, extra?: Readonly<Record<string, string>>): void {
  res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers, ...extra }).end(JSON.stringify(a.body))
}

/**
 * Cross-origin access for browser clients, as the Matrix client-server API gives it: any origin,
 * no credentials (the APIs authenticate with bearer tokens or signatures, never cookies, so a
 * page on another origin gains nothing it could not do without a browser). Only the listed
 * methods on paths that `paths` matches; a preflight (OPTIONS) on them answers 204.
 */
export interface CorsRule {
  readonly methods: readonly string[]
  readonly paths: RegExp
}

/** Bound: a browser caches a preflight answer this long (seconds). */
const PREFLIGHT_MAX_AGE_S = '600'

function corsHeaders(c: CorsRule, req: IncomingMessage): Record<string, string> | undefined {
  const path = (req.url ?? '/').split('?')[0]!
  if (!c.paths.test(path)) return undefined
  return { 'access-control-allow-origin': '*' }
}

/**
 * A request handler that answers what `route` gives, or `internal` when it throws. `route` gives
 * null when there is nothing to answer: its connection is gone.
 */
export function serveJson(
  route: (req: IncomingMessage) => Promise<JsonAnswer | null>,
  internal: JsonAnswer,
  cors?: CorsRule
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const extra = cors !== undefined ? corsHeaders(cors, req) : undefined
    const answer = (a: JsonAnswer): void => {
      if (!res.headersSent && !res.destroyed) answerJson(res, a, extra)
    }
    if (extra !== undefined && req.method === 'OPTIONS') {
      req.resume()
      res
        .writeHead(204, {
          ...extra,
          'access-control-allow-methods': [...cors!.methods, 'OPTIONS'].join(', '),
          'access-control-allow-headers': 'Authorization, Content-Type',
          'access-control-max-age': PREFLIGHT_MAX_AGE_S
        })
        .end()
      return
    }
    route(req).then(
      a => {
        if (a !== null) answer(a)
      },
      () => answer(internal)
    )
  }
}
