/**
 * The Matrix client-server calls sealmix makes, over fetch with deadlines: `whoami` (who owns an
 * access token), `sendToDevice` as an application service (the ingress's sink), and the to-device
 * part of `/sync` (how a recipient's client collects envelopes in the demo and the CLI).
 * Tokens go in the Authorization header only, never in a URL or a log line.
 */
import { ClientError } from './errors.ts'

export const SEALED_EVENT_TYPE = 'org.sealmix.sealed.v1'

export interface HomeserverAuth { readonly url: string, readonly token: string, readonly timeoutMs?: number }

async function call (a: HomeserverAuth, method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> {
  let res: Response
  try {
    res = await fetch(a.url.replace(/\/+$/, '') + path, {
      method,
      headers: { Authorization: `Bearer ${a.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(a.timeoutMs ?? 10_000)
    })
  } catch (e) {
    throw new ClientError('CLIENT_HOMESERVER', `the homeserver did not answer ${method} ${path.split('?')[0]!}`, { cause: e })
  }
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try { json = text === '' ? {} : JSON.parse(text) as Record<string, unknown> } catch { json = {} }
  return { status: res.status, json }
}

/** `GET /_matrix/client/v3/account/whoami`: the user (and device) of an access token, or null for an unknown token. */
export async function whoami (a: HomeserverAuth): Promise<{ userId: string, deviceId?: string } | null> {
  const r = await call(a, 'GET', '/_matrix/client/v3/account/whoami')
  if (r.status === 401 || r.status === 403) return null
  if (r.status !== 200 || typeof r.json.user_id !== 'string') throw new ClientError('CLIENT_HOMESERVER', `whoami answered ${r.status}`)
  return { userId: r.json.user_id, ...(typeof r.json.device_id === 'string' ? { deviceId: r.json.device_id } : {}) }
}

export type SinkResult = 'delivered' | 'retry' | 'refused'

/**
 * `PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}?user_id=` with the application
 * service's as_token, as its bot user. The transaction id is the sealmix message id, so a
 * re-delivery after a crash is de-duplicated by the homeserver.
 */
export async function sendToDevice (a: HomeserverAuth, asUser: string, txnId: string, userId: string, deviceId: string, content: Record<string, unknown>, eventType = SEALED_EVENT_TYPE): Promise<SinkResult> {
  const path = `/_matrix/client/v3/sendToDevice/${encodeURIComponent(eventType)}/${encodeURIComponent(txnId)}?user_id=${encodeURIComponent(asUser)}`
  let r
  try {
    r = await call(a, 'PUT', path, { messages: { [userId]: { [deviceId]: content } } })
  } catch {
    return 'retry'
  }
  if (r.status === 200) return 'delivered'
  // 401: the homeserver does not take the ingress's own application-service token (a rotated or
  // mistyped as_token): the operator's fault, not the sender's, so the message waits.
  if (r.status === 401 || r.status === 429 || r.status >= 500) return 'retry'
  return 'refused'
}

export interface ToDeviceEvent { readonly type: string, readonly sender: string, readonly content: Record<string, unknown> }

/** The to-device events of one `/sync` call, and the token for the next one. */
export async function syncToDevice (a: HomeserverAuth, since: string | undefined, timeoutMs = 0): Promise<{ nextBatch: string, events: ToDeviceEvent[] }> {
  const q = new URLSearchParams({ timeout: String(timeoutMs), ...(since !== undefined ? { since } : {}) })
  const r = await call({ ...a, timeoutMs: timeoutMs + (a.timeoutMs ?? 10_000) }, 'GET', `/_matrix/client/v3/sync?${q.toString()}`)
  if (r.status !== 200) throw new ClientError('CLIENT_HOMESERVER', `sync answered ${r.status}`)
  const td = r.json.to_device as { events?: unknown } | undefined
  const events = Array.isArray(td?.events) ? (td.events as ToDeviceEvent[]).filter(e => typeof e?.type === 'string' && typeof e.content === 'object') : []
  return { nextBatch: String(r.json.next_batch ?? since ?? ''), events }
}
