/**
 * The ingress's two HTTP listeners.
 * Client API (for the homeserver's own users, next to its client-server API):
 *   POST /_sealmix/v1/sender_cert  {x25519, ed25519, device_id?} -> {sender_cert, server_cert, expires_ms}
 *   PUT  /_sealmix/v1/capability   {device_id, key_id, public_key} -> {}
 *   both with `Authorization: Bearer <Matrix access token>`, checked against the homeserver's whoami.
 * Operations (private): /metrics (optional bearer token), /healthz, /readyz.
 */
import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BodyTimeout, readBody } from '../io/index.ts'
import type { IngressMetrics } from './metrics.ts'

export interface Listening { readonly port: number, close (): Promise<void> }

export type ApiAnswer = { readonly status: number, readonly body: Record<string, unknown> }

export interface ApiHandlers {
  senderCert (token: string, body: Record<string, unknown>): Promise<ApiAnswer>
  capability (token: string, body: Record<string, unknown>): Promise<ApiAnswer>
}

/**
 * Deadlines, so that a client that sends slowly cannot hold a connection: headers within 5 s, the
 * whole request (body included) within REQUEST_TIMEOUT_MS (Node answers 408 and closes; checked
 * every second, not Node's default 30 s), an idle keep-alive connection closed after 5 s. The API
 * also cuts a body off at BODY_TIMEOUT_MS while it reads it.
 */
const REQUEST_TIMEOUT_MS = 15_000

function server (handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const s = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: 5000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000 }, handler)
  s.maxConnections = 4096
  return s
}

async function listen (server: Server, host: string, port: number): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => { await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }) }
  }
}

const json = (res: ServerResponse, a: ApiAnswer): void => { res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body)) }

export async function startApiServer (host: string, port: number, h: ApiHandlers): Promise<Listening> {
  const route = async (req: IncomingMessage): Promise<ApiAnswer> => {
    const path = (req.url ?? '/').split('?')[0]
    const handler = req.method === 'POST' && path === '/_sealmix/v1/sender_cert' ? h.senderCert.bind(h) : req.method === 'PUT' && path === '/_sealmix/v1/capability' ? h.capability.bind(h) : null
    if (handler === null) return { status: 404, body: { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' } }
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) return { status: 401, body: { errcode: 'M_MISSING_TOKEN', error: 'Missing access token' } }
    let body: unknown
    try { body = JSON.parse(await readBody(req, 4096)) } catch (e) {
      if (e instanceof BodyTimeout) throw e
      return { status: 400, body: { errcode: 'M_NOT_JSON', error: 'Body must be JSON of at most 4 KiB' } }
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status: 400, body: { errcode: 'M_BAD_JSON', error: 'Body must be a JSON object' } }
    return await handler(token, body as Record<string, unknown>)
  }
  return await listen(server((req, res) => {
    route(req).then(a => json(res, a), e => {
      // A body cut off at its deadline: the connection is gone already.
      if (e instanceof BodyTimeout || res.destroyed) return
      json(res, { status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal error' } })
    })
  }), host, port)
}

export async function startIngressOps (o: { host: string, port: number, token?: string, metrics: IngressMetrics, ready: () => string | null }): Promise<Listening> {
  const want = o.token === undefined ? null : Buffer.from(`Bearer ${o.token}`)
  return await listen(server((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') { res.writeHead(405).end(); return }
    if (path === '/healthz') { res.writeHead(200).end('ok\n'); return }
    if (path === '/readyz') { const why = o.ready(); res.writeHead(why === null ? 200 : 503).end(why === null ? 'ready\n' : `not ready: ${why}\n`); return }
    if (path !== '/metrics') { res.writeHead(404).end(); return }
    const got = Buffer.from(req.headers.authorization ?? '')
    if (want !== null && (got.length !== want.length || !timingSafeEqual(got, want))) { res.writeHead(401, { 'www-authenticate': 'Bearer' }).end(); return }
    o.metrics.registry.metrics().then(text => res.writeHead(200, { 'content-type': o.metrics.registry.contentType }).end(text), () => res.writeHead(500).end())
  }), o.host, o.port)
}
