/**
 * Bind an address and let it go at once, so that a port another program holds is refused at
 * start, with the same line as a failed listen, instead of when the program gets round to
 * listening (a relay that follows authorities listens only once its first network document has
 * come, which may be many seconds, or never while the authorities are unreachable). Port 0 (any
 * free port) is not probed. Another program may still take the port between the probe and the
 * listen: then the listen itself fails with the same line.
 */
import { createServer } from 'node:net'
import { bindProblem, RelayError } from './errors.ts'

export async function probeBind(section: string, host: string, port: number): Promise<void> {
  if (port === 0) return
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', e => reject(RelayError.LISTEN_FAILED(bindProblem(section, host, port, e), e)))
    server.listen({ host, port, exclusive: true }, () => resolve())
  })
  await new Promise<void>(resolve => server.close(() => resolve()))
}
