/**
 * The relay's HTTP transport to directory authorities: node:http(s) with a keep-alive agent (a
 * relay asks every authority every eighth of an epoch), a timeout, and a cap on what is read.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { type DirectoryTransport, type PostResult, postResult } from '../../mix/index.ts'

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 4 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 4 })
}

function call(url: string, o: { method: 'GET' | 'POST'; body?: string; timeoutMs: number }): Promise<IncomingMessage> {
  const u = new URL(url)
  const tls = u.protocol === 'https:'
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(
      u,
      {
        method: o.method,
        agent: tls ? agents.https : agents.http,
        timeout: o.timeoutMs,
        headers:
          o.body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(o.body) }
      },
      resolve
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(o.body)
  })
}

export function httpTransport(timeoutMs = 3000): DirectoryTransport {
  return {
    async get(url, limit) {
      const res = await call(url, { method: 'GET', timeoutMs })
      if (res.statusCode !== 200) {
        res.resume()
        return null
      }
      const parts: Buffer[] = []
      let n = 0
      for await (const chunk of res) {
        parts.push(chunk as Buffer)
        n += (chunk as Buffer).length
        if (n > limit) {
          res.destroy()
          break
        }
      }
      return Buffer.concat(parts).subarray(0, limit + 1)
    }
  }
}

/** POST a signed descriptor: taken, or the authority's reason for refusing it. */
export async function postDescriptor(url: string, body: string, timeoutMs = 3000): Promise<PostResult> {
  try {
    const res = await call(`${url}/v1/descriptor`, { method: 'POST', body, timeoutMs })
    let text = ''
    for await (const chunk of res) {
      if (text.length < 1024) text += (chunk as Buffer).toString('utf8')
    }
    return postResult(res.statusCode ?? null, text)
  } catch {
    return postResult(null, '')
  }
}
