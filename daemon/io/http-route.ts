/**
 * Request routing for the JSON APIs (the ingress API, the authority's API, the stand-in
 * homeserver): a table of method, path and handler, and a named result that keeps apart a path
 * nobody serves from a path served under another method (each API says which status that gets).
 */
import type { IncomingMessage } from 'node:http'

/** A route: one method on one path, or on every path a pattern matches (its groups become `params`). */
export interface Route<H> {
  readonly method: string
  readonly path: string | RegExp
  readonly handler: H
}

export type RouteMatch<H> =
  | { readonly kind: 'found'; readonly handler: H; readonly params: readonly string[] }
  /** The path is served, under another method. */
  | { readonly kind: 'wrong_method' }
  | { readonly kind: 'not_found' }

/** The request's path, without its query string. */
export function requestPath(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!
}

/** The first route with this method and path (a pattern is anchored by its own ^ and $). */
export function matchRoute<H>(
  routes: ReadonlyArray<Route<H>>,
  method: string | undefined,
  path: string
): RouteMatch<H> {
  let served = false
  for (const r of routes) {
    const m = typeof r.path === 'string' ? (r.path === path ? [path] : null) : r.path.exec(path)
    if (m === null) continue
    if (r.method === method) return { kind: 'found', handler: r.handler, params: m.slice(1).map(p => p ?? '') }
    served = true
  }
  return served ? { kind: 'wrong_method' } : { kind: 'not_found' }
}
