/**
 * A stand-in Matrix homeserver for the devnet and the tests: a Matrix homeserver cannot run here,
 * so this small HTTP server implements only what sealmix touches. It is a fake, not a
 * homeserver:
 *   GET  /_matrix/client/v3/account/whoami                 (access token -> user and device)
 *   PUT  /_matrix/client/v3/sendToDevice/{type}/{txnId}    (as_token + ?user_id=, de-duplicated by txnId)
 *   GET  /_matrix/client/v3/sync?since=&timeout=           (to-device events only, long-poll)
 * It prints each to-device event as it arrives: recipient, type and size. It never learns a sender.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readBody } from './http-body.ts'

export interface StandinUser { readonly userId: string, readonly deviceId: string, readonly accessToken: string }

export interface StandinOptions {
  readonly serverName: string
  readonly asToken: string
  readonly users: readonly StandinUser[]
  readonly print?: (line: string) => void
  /** Events kept per device (oldest dropped beyond this). */
  readonly maxEventsPerDevice?: number
}

interface Stored { readonly seq: number, readonly type: string, readonly sender: string, readonly content: Record<string, unknown> }

export class StandinHomeserver {
  readonly #o: StandinOptions
  readonly #events = new Map<string, Stored[]>()
  readonly #txns = new Set<string>()
  readonly #waiters = new Set<() => void>()
  #seq = 0
  #server: Server | null = null
  /** Every to-device event accepted, in order: for tests and the devnet's status line. */
  readonly received: Array<{ userId: string, deviceId: string, type: string, bytes: number }> = []

  constructor (o: StandinOptions) { this.#o = o }

  async listen (port: number, host = '127.0.0.1'): Promise<number> {
    const s = createServer((req, res) => { void this.#handle(req, res) })
    this.#server = s
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, host, () => resolve()) })
    const a = s.address()
    return typeof a === 'object' && a !== null ? a.port : port
  }

  async close (): Promise<void> {
    for (const w of this.#waiters) w()
    const s = this.#server
    if (s === null) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => resolve()))
  }

  #user (req: IncomingMessage): StandinUser | undefined {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    return this.#o.users.find(u => u.accessToken === token)
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const send = (status: number, body: unknown): void => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body)) }
    const unknownToken = (): void => send(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token' })
    if (req.method === 'GET' && url.pathname === '/_matrix/client/v3/account/whoami') {
      const u = this.#user(req)
      if (u === undefined) { unknownToken(); return }
      send(200, { user_id: u.userId, device_id: u.deviceId })
      return
    }
    const m = /^\/_matrix\/client\/v3\/sendToDevice\/([^/]+)\/([^/]+)$/.exec(url.pathname)
    if (req.method === 'PUT' && m !== null) {
      if (req.headers.authorization !== `Bearer ${this.#o.asToken}`) { unknownToken(); return }
      const asUser = url.searchParams.get('user_id') ?? ''
      let body: { messages?: Record<string, Record<string, Record<string, unknown>>> }
      try { body = JSON.parse(await readBody(req, 1 << 20)) as typeof body } catch { send(400, { errcode: 'M_NOT_JSON', error: 'Content not JSON' }); return }
      const type = decodeURIComponent(m[1]!)
      const txn = `${asUser}\0${decodeURIComponent(m[2]!)}`
      if (this.#txns.has(txn)) { send(200, {}); return }
      this.#txns.add(txn)
      for (const [userId, devices] of Object.entries(body.messages ?? {})) {
        for (const [deviceId, content] of Object.entries(devices)) {
          const key = `${userId}\0${deviceId}`
          const list = this.#events.get(key) ?? []
          list.push({ seq: ++this.#seq, type, sender: asUser, content })
          while (list.length > (this.#o.maxEventsPerDevice ?? 10_000)) list.shift()
          this.#events.set(key, list)
          const bytes = JSON.stringify(content).length
          this.received.push({ userId, deviceId, type, bytes })
          this.#o.print?.(`homeserver ${this.#o.serverName}: to-device ${type} for ${userId}/${deviceId}, ${bytes} bytes, sent by the bot ${asUser} (the real sender is sealed inside)`)
        }
      }
      for (const w of this.#waiters) w()
      send(200, {})
      return
    }
    if (req.method === 'GET' && url.pathname === '/_matrix/client/v3/sync') {
      const u = this.#user(req)
      if (u === undefined) { unknownToken(); return }
      const since = Number(url.searchParams.get('since') ?? '0') || 0
      const timeout = Math.min(30_000, Number(url.searchParams.get('timeout') ?? '0') || 0)
      const pending = (): Stored[] => (this.#events.get(`${u.userId}\0${u.deviceId}`) ?? []).filter(e => e.seq > since)
      if (pending().length === 0 && timeout > 0) await this.#wait(timeout)
      const events = pending()
      send(200, { next_batch: String(events.at(-1)?.seq ?? since), to_device: { events: events.map(e => ({ type: e.type, sender: e.sender, content: e.content })) } })
      return
    }
    send(404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' })
  }

  async #wait (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(t); this.#waiters.delete(done); resolve() }
      const t = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }
}
