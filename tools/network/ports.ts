/** Ports for the listeners of a network on loopback, chosen before the listeners start. */
import { createServer } from 'node:net'

/** Ports handed out by this process; one entry per port, at most the 12,000 of the range below. */
const handedOut = new Set<number>()

/**
 * A free TCP port on 127.0.0.1 for a listener started a little later. Chosen below Linux's
 * ephemeral range (32768 and up), so an outgoing connection made meanwhile cannot be given the
 * same port as its local end; checked by binding it; never handed out twice by one process.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    if (handedOut.has(port)) continue
    const free = await new Promise<boolean>(resolve => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) {
      handedOut.add(port)
      return port
    }
  }
}
