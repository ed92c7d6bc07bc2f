/**
 * A request body as text, refused beyond `max` bytes or when it has not all arrived `timeoutMs`
 * after the call: the one body reader of the HTTP listeners (the ingress API, the authority's API,
 * the stand-in homeserver). At the deadline the connection is destroyed, so that a body sent a
 * byte at a time cannot hold it open (Node's own request deadline is 300 s).
 */
import type { IncomingMessage } from 'node:http'

/** How long a whole request body may take to arrive. */
export const BODY_TIMEOUT_MS = 10_000

/**
 * What reading a body gave: the text; `too_large` (reading stopped past `max` bytes; the caller
 * answers, then the connection closes); `late` (the deadline passed and the connection is
 * destroyed: nothing can be answered); `aborted` (the client went away mid-body).
 */
export type BodyResult =
  | { readonly kind: 'body'; readonly text: string }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'late' }
  | { readonly kind: 'aborted' }

export async function readBody(req: IncomingMessage, max: number, timeoutMs = BODY_TIMEOUT_MS): Promise<BodyResult> {
  let size = 0
  const chunks: Buffer[] = []
  let late = false
  const deadline = setTimeout(() => {
    late = true
    req.socket.destroy()
    req.destroy(new Error('the request body did not arrive in time'))
  }, timeoutMs)
  try {
    for await (const c of req) {
      size += (c as Buffer).length
      // Leaving the loop stops the reading: what is left of the body is not taken in.
      if (size > max) return late ? { kind: 'late' } : { kind: 'too_large' }
      chunks.push(c as Buffer)
    }
  } catch {
    return late ? { kind: 'late' } : { kind: 'aborted' }
  } finally {
    clearTimeout(deadline)
  }
  if (late) return { kind: 'late' }
  return { kind: 'body', text: Buffer.concat(chunks).toString('utf8') }
}
