/** A request body as text, refused (thrown) beyond `max` bytes: the stand-in homeserver and the ingress API use it. */
import type { IncomingMessage } from 'node:http'

export async function readBody (req: IncomingMessage, max: number): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const c of req) {
    size += (c as Buffer).length
    if (size > max) throw new Error('body too large')
    chunks.push(c as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
