/**
 * A bounded flood of descriptor POSTs from one source address (a second loopback address, so
 * that the relays' own posts from 127.0.0.1 are not the flood's source), counting the answers by
 * HTTP status (0: the connection failed).
 */
import { Agent, request } from 'node:http'

export async function floodPosts(
  port: number,
  body: string,
  count: number,
  o: { localAddress?: string; concurrency?: number } = {}
): Promise<Map<number, number>> {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: o.concurrency ?? 32,
    localAddress: o.localAddress ?? '127.0.0.2'
  })
  const codes = new Map<number, number>()
  const count1 = (code: number): void => {
    codes.set(code, (codes.get(code) ?? 0) + 1)
  }
  const one = async (): Promise<void> =>
    await new Promise<void>(resolve => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/descriptor',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' }
        },
        res => {
          res.resume()
          res.on('end', () => {
            count1(res.statusCode!)
            resolve()
          })
        }
      )
      req.on('error', () => {
        count1(0)
        resolve()
      })
      req.end(body)
    })
  let sent = 0
  await Promise.all(
    Array.from({ length: o.concurrency ?? 32 }, async () => {
      while (sent < count) {
        sent++
        await one()
      }
    })
  )
  agent.destroy()
  return codes
}
