/**
 * A request body as text, refused (thrown) beyond `max` bytes or when it has not all arrived
 * `timeoutMs` after the call: the stand-in homeserver and the ingress API use it. At the deadline
 * the connection is destroyed, so that a body sent a byte at a time cannot hold it open (a slow
 * body had kept the ingress API's connection open for over 80 s).
 */
import type { IncomingMessage } from 'node:http'

/** How long a whole request body may take to arrive. */
export const BODY_TIMEOUT_MS = 10_000

export class BodyTimeout extends Error {
  constructor () { super('the request body did not arrive in time') }
}

export async function readBody (req: IncomingMessage, max: number, timeoutMs = BODY_TIMEOUT_MS): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  let late = false
  const deadline = setTimeout(() => { late = true; req.socket.destroy() ; req.destroy(new BodyTimeout()) }, timeoutMs)
  try {
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > max) throw new Error('body too large')
      chunks.push(c as Buffer)
    }
  } catch (e) {
    if (late) throw new BodyTimeout()
    throw e
  } finally {
    clearTimeout(deadline)
  }
  if (late) throw new BodyTimeout()
  return Buffer.concat(chunks).toString('utf8')
}
