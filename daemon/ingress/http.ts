/**
 * The ingress's client API (for the homeserver's own users, next to its client-server API):
 *   POST /_sealmix/v1/sender_cert  {x25519, ed25519, device_id?} -> {sender_cert, server_cert, expires_ms}
 *   PUT  /_sealmix/v1/capability   {device_id, key_id, public_key, block?} -> {}
 *   PUT  /_sealmix/v1/room_key     {room_id, key_id, public_key, proof?, block?} -> {result}
 *   POST /_sealmix/v1/room_key/current {room_id} -> {key_id, public_key} or {key_id: null}
 *   each with `Authorization: Bearer <Matrix access token>`, checked against the homeserver's whoami.
 * Its operations listener (/metrics, /healthz, /readyz) is the shared one (startOpsServer).
 * Deadlines: those of every listener (listenHttp: the whole request within 15 s), and the body
 * cut off at BODY_TIMEOUT_MS while it is read.
 */
import type { IncomingMessage } from 'node:http'
import { type HttpListener, listenHttp, matchRoute, type Route, readBody, requestPath, serveJson } from '../io/index.ts'

export type ApiAnswer = { readonly status: number; readonly body: Record<string, unknown> }

export interface ApiHandlers {
  senderCert(token: string, body: Record<string, unknown>): Promise<ApiAnswer>
  capability(token: string, body: Record<string, unknown>): Promise<ApiAnswer>
  roomKey(token: string, body: Record<string, unknown>): Promise<ApiAnswer>
  currentRoomKey(token: string, body: Record<string, unknown>): Promise<ApiAnswer>
}

/** Bound: the largest request body the API reads. */
const MAX_BODY = 4096

const unrecognized: ApiAnswer = { status: 404, body: { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' } }

export async function startApiServer(
  host: string,
  port: number,
  h: ApiHandlers,
  bindError?: (problem: string, cause: unknown) => Error
): Promise<HttpListener> {
  type Handler = (token: string, body: Record<string, unknown>) => Promise<ApiAnswer>
  const routes: ReadonlyArray<Route<Handler>> = [
    { method: 'POST', path: '/_sealmix/v1/sender_cert', handler: h.senderCert.bind(h) },
    { method: 'PUT', path: '/_sealmix/v1/capability', handler: h.capability.bind(h) },
    { method: 'PUT', path: '/_sealmix/v1/room_key', handler: h.roomKey.bind(h) },
    { method: 'POST', path: '/_sealmix/v1/room_key/current', handler: h.currentRoomKey.bind(h) }
  ]
  const route = async (req: IncomingMessage): Promise<ApiAnswer | null> => {
    const r = matchRoute(routes, req.method, requestPath(req))
    // Another method on a served path gets the same 404 as a path not served.
    if (r.kind !== 'found') return unrecognized
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) return { status: 401, body: { errcode: 'M_MISSING_TOKEN', error: 'Missing access token' } }
    const text = await readBody(req, MAX_BODY)
    // A body cut off at its deadline: the connection is gone already.
    if (text.kind === 'late') return null
    let body: unknown
    try {
      body = text.kind === 'body' ? JSON.parse(text.text) : undefined
    } catch {}
    if (body === undefined)
      return { status: 400, body: { errcode: 'M_NOT_JSON', error: 'Body must be JSON of at most 4 KiB' } }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return { status: 400, body: { errcode: 'M_BAD_JSON', error: 'Body must be a JSON object' } }
    return await r.handler(token, body as Record<string, unknown>)
  }
  return await listenHttp(
    { host, port, section: 'api', bindError },
    serveJson(
      route,
      { status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal error' } },
      // Browser clients call this API from their own origin, as they call the homeserver's.
      { methods: ['POST', 'PUT'], paths: /^\/_sealmix\/v1\// }
    )
  )
}
