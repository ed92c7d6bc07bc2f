/**
 * The devnet's web chat page, served on loopback: the page (tools/devnet/web/), its script and the
 * SDK's browser bundle (dist/, made by `npm run build`), a two-line worker module that runs the
 * SDK, and `devnet.json`: each demo user's browser device (a client profile with its secrets: a
 * local demo, where the devnet made the keys; a real app makes them in the browser and keeps them
 * there) and the card of the Node device it chats with.
 */
import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import { type HttpListener, listenHttp, projectRoot, requestPath } from '../../daemon/index.ts'

export interface WebUser {
  readonly name: string
  readonly userId: string
  readonly profile: unknown
  readonly peer: { readonly name: string; readonly card: unknown }
}

/** The files a browser fetches, from the project's dist/ and tools/devnet/web/. */
export const WEB_FILES = {
  '/': { file: 'tools/devnet/web/index.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'tools/devnet/web/style.css', type: 'text/css; charset=utf-8' },
  '/app.js': { file: 'dist/web/app.js', type: 'text/javascript; charset=utf-8' },
  '/sealmix-client.js': { file: 'dist/sealmix-client.js', type: 'text/javascript; charset=utf-8' }
} as const

/** The worker module: the bundle's runWorker, nothing else. */
const WORKER = "import { runWorker } from './sealmix-client.js'\nrunWorker()\n"

/** The paths of the bundle that `npm run build` makes, missing from an older checkout's dist/. */
export function missingWebFiles(root = projectRoot(import.meta.url)): string[] {
  return Object.values(WEB_FILES)
    .map(f => f.file)
    .filter(f => {
      try {
        readFileSync(join(root, f))
        return false
      } catch {
        return true
      }
    })
}

export async function serveWebChat(host: string, port: number, users: readonly WebUser[]): Promise<HttpListener> {
  const root = projectRoot(import.meta.url)
  const users_ = JSON.stringify({ users })
  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer): void => {
    res
      .writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        // The page runs only its own scripts and talks only to the devnet's loopback services.
        'content-security-policy':
          "default-src 'self'; connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'",
        'x-content-type-options': 'nosniff'
      })
      .end(body)
  }
  let served = 0
  const listener = await listenHttp({ host, port }, (req, res) => {
    // The page's own names only: a page of another site whose name a DNS rebinding points here
    // must not read devnet.json, which holds the browser devices' secrets.
    const allowed = [`127.0.0.1:${served}`, `localhost:${served}`, `[::1]:${served}`]
    if (!allowed.includes((req.headers.host ?? '').toLowerCase())) return send(res, 421, 'text/plain', 'unknown host\n')
    const path = requestPath(req)
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET\n')
    if (path === '/devnet.json') return send(res, 200, 'application/json', users_)
    if (path === '/worker.js') return send(res, 200, 'text/javascript; charset=utf-8', WORKER)
    // Browsers ask for one unprompted; the page has none.
    if (path === '/favicon.ico') return send(res, 204, 'text/plain', '')
    const f = (WEB_FILES as Record<string, { file: string; type: string }>)[path]
    if (f === undefined) return send(res, 404, 'text/plain', 'not found\n')
    try {
      send(res, 200, f.type, readFileSync(join(root, f.file)))
    } catch {
      send(res, 500, 'text/plain', `${f.file} is missing: run npm run build\n`)
    }
  })
  served = listener.port
  return listener
}
