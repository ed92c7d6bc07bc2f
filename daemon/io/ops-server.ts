/**
 * The operations listener of every server program, separate from what it serves (the relay's
 * default is 127.0.0.1:9464): /metrics (Prometheus text; optional bearer token), /healthz (the
 * process runs) and /readyz (the program can do its work; its `ready` says why not). Nothing else
 * is served, and only GET.
 */
import { timingSafeEqual } from 'node:crypto'
import { Gauge, type Registry } from 'prom-client'
import { healthzBody } from './health.ts'
import { type HttpListener, listenHttp } from './http-listen.ts'
import { requestPath } from './http-route.ts'

export interface OpsServer extends HttpListener {
  /** The token /metrics requires from now on (none: open); a reload (SIGHUP) sets it. */
  setToken(token: string | undefined): void
}

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
  /** The error for an address it cannot bind (see listenHttp). @default RelayError RELAY_LISTEN_FAILED */
  readonly bindError?: (problem: string, cause: unknown) => Error
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const bearer = (t: string | undefined): Buffer | null => (t === undefined ? null : Buffer.from(`Bearer ${t}`))
  let want = bearer(o.token)
  readyGauge(o.metrics.registry, o.ready)
  // The handlers answer without reading a body: one that comes a byte at a time is closed (408)
  // at the request deadline, 15 s after it began.
  const server = await listenHttp(
    { host: o.host, port: o.port, section: 'metrics', bindError: o.bindError },
    (req, res) => {
      const path = requestPath(req)
      if (req.method !== 'GET') {
        res.writeHead(405).end()
        return
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(healthzBody())
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
    }
  )
  return {
    port: server.port,
    close: server.close,
    setToken: t => {
      want = bearer(t)
    }
  }
}

/**
 * `sealmix_ready`: 1 while /readyz would answer 200, else 0, read at each scrape. Dashboards and
 * alerts see readiness without probing /readyz themselves; the reason stays in /readyz and the log.
 */
function readyGauge(registry: Registry, ready: () => string | null): void {
  // A program that restarts its listener keeps its registry: one gauge, reading the latest `ready`.
  registry.removeSingleMetric('sealmix_ready')
  new Gauge({
    name: 'sealmix_ready',
    help: 'Whether the program can do its work: 1 while /readyz answers 200, else 0 (/readyz says why).',
    registers: [registry],
    collect() {
      this.set(ready() === null ? 1 : 0)
    }
  })
}
