/**
 * The operations listener, separate from the packet listener (default 127.0.0.1:9464):
 * /metrics (Prometheus text; optional bearer token), /healthz (the process runs) and /readyz (the
 * relay has its network document, its store and its listener). Nothing else is served.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import type { Registry } from 'prom-client'

export interface OpsServer {
  readonly port: number
  close (): Promise<void>
}

export async function startOpsServer (o: { host: string, port: number, token?: string, metrics: { readonly registry: Registry }, ready: () => string | null }): Promise<OpsServer> {
  const want = o.token === undefined ? null : Buffer.from(`Bearer ${o.token}`)
  // A request whose body comes a byte at a time is closed (408) 15 s after it began: the handlers
  // answer without reading a body, and Node would otherwise keep the connection for its default 300 s.
  const server: Server = createServer({ requestTimeout: 15_000, headersTimeout: 5000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') { res.writeHead(405).end(); return }
    if (path === '/healthz') { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'); return }
    if (path === '/readyz') {
      // The body says why a node is not ready (a closed set of reasons, never an address or id).
      const why = o.ready()
      res.writeHead(why === null ? 200 : 503, { 'content-type': 'text/plain' }).end(why === null ? 'ready\n' : `not ready: ${why}\n`)
      return
    }
    if (path === '/metrics') {
      if (want !== null) {
        const got = Buffer.from(req.headers.authorization ?? '')
        if (got.length !== want.length || !timingSafeEqual(got, want)) { res.writeHead(401, { 'www-authenticate': 'Bearer' }).end(); return }
      }
      o.metrics.registry.metrics().then(text => {
        res.writeHead(200, { 'content-type': o.metrics.registry.contentType }).end(text)
      }, () => { res.writeHead(500).end() })
      return
    }
    res.writeHead(404).end()
  })
  server.maxConnections = 4096 // bound: an operations listener needs a handful
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve() })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => { await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }) }
  }
}
