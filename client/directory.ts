/**
 * The client side's HTTP transport to directory authorities (global `fetch`, so that the SDK runs
 * wherever fetch does), and a DirectoryClient built on it with the wall clock.
 */
import { DirectoryClient, type DirectoryClientOptions, type DirectoryTransport } from '../mix/index.ts'

/** GET with a timeout; at most `limit + 1` bytes of a 200 answer are read (one more than allowed is enough to refuse it). */
export function fetchTransport(timeoutMs = 3000): DirectoryTransport {
  return {
    async get(url, limit) {
      const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      if (r.status !== 200) {
        await r.body?.cancel().catch(() => {})
        return null
      }
      const parts: Buffer[] = []
      let n = 0
      // A reader, not `for await`: Safari's streams are not async iterables.
      const reader = r.body?.getReader()
      while (reader !== undefined) {
        const { done, value } = await reader.read()
        if (done) break
        const b = Buffer.from(value)
        parts.push(b)
        n += b.length
        if (n > limit) {
          await reader.cancel().catch(() => {})
          break
        }
      }
      return Buffer.concat(parts).subarray(0, limit + 1)
    }
  }
}

/** A DirectoryClient over fetch and the wall clock (options as DirectoryClientOptions, transport and clock optional). */
export function directoryClient(
  o: Omit<DirectoryClientOptions, 'transport' | 'now'> & { transport?: DirectoryTransport; now?: () => number }
): DirectoryClient {
  return new DirectoryClient({ ...o, transport: o.transport ?? fetchTransport(), now: o.now ?? Date.now })
}

export { DirectoryClient }
