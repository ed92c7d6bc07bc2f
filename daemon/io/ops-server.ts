/**
 * The operations listener of every server program, separate from what it serves (the relay's
 * default is 127.0.0.1:9464): /metrics (Prometheus text; optional bearer token), /healthz (the
 * process runs) and /readyz (the program can do its work; its `ready` says why not). Nothing else
 * is served, and only GET.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Registry } from 'prom-client'
import { type HttpListener, listenHttp } from './http-listen.ts'
import { requestPath } from './http-route.ts'

export type OpsServer = HttpListener

export interface OpsServerOptions {
  readonly host: string
  readonly port: number
  /** Require `Authorization: Bearer <token>` on /metrics. */
  readonly token?: string
  readonly metrics: { readonly registry: Registry }
  /**
   * Null when ready, else why not: a closed set of reasons per program, never an address or id
   * (the /readyz body says it).
   */
  readonly ready: () => string | null
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const want = o.token === undefined ? null : Buffer.from(`Bearer ${o.token}`)
  // The handlers answer without reading a body: one that comes a byte at a time is closed (408)
  // at the request deadline, 15 s after it began.
  return await listenHttp({ host: o.host, port: o.port }, (req, res) => {
    const path = requestPath(req)
    if (req.method !== 'GET') {
      res.writeHead(405).end()
      return
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
      return
    }
    if (path === '/readyz') {
      const why = o.ready()
      res
        .writeHead(why === null ? 200 : 503, { 'content-type': 'text/plain' })
        .end(why === null ? 'ready\n' : `not ready: ${why}\n`)
      return
    }
    if (path === '/metrics') {
      if (want !== null) {
        const got = Buffer.from(req.headers.authorization ?? '')
        if (got.length !== want.length || !timingSafeEqual(got, want)) {
          res.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
          return
        }
      }
      o.metrics.registry.metrics().then(
        text => {
          res.writeHead(200, { 'content-type': o.metrics.registry.contentType }).end(text)
        },
        () => {
          res.writeHead(500).end()
        }
      )
      return
    }
    res.writeHead(404).end()
  })
}
