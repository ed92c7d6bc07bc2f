/**
 * The Matrix client-server calls sealmix makes, over fetch with deadlines: `whoami` (who owns an
 * access token) and `sendToDevice` as an application service (the ingress's sink), over one
 * `homeserverCall` that the demo's `/sync` reader shares. Tokens go in the Authorization header
 * only, never in a URL or a log line.
 */
import { SEALED_EVENT_TYPE } from '../../mix/index.ts'
import { IngressError } from './errors.ts'

export interface HomeserverAuth {
  readonly url: string
  readonly token: string
  readonly timeoutMs?: number
}

export type HomeserverAnswer =
  | { readonly kind: 'unreachable'; readonly cause: unknown }
  | { readonly kind: 'answered'; readonly status: number; readonly json: Record<string, unknown> }

export async function homeserverCall(
  a: HomeserverAuth,
  method: string,
  path: string,
  body?: unknown
): Promise<HomeserverAnswer> {
  let res: Response
  try {
    res = await fetch(a.url.replace(/\/+$/, '') + path, {
      method,
      headers: {
        Authorization: `Bearer ${a.token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {})
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(a.timeoutMs ?? 10_000)
    })
  } catch (e) {
    return { kind: 'unreachable', cause: e }
  }
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
  } catch {
    json = {}
  }
  return { kind: 'answered', status: res.status, json }
}

async function call(
  a: HomeserverAuth,
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await homeserverCall(a, method, path, body)
  if (r.kind === 'unreachable')
    throw new IngressError('INGRESS_HOMESERVER', `the homeserver did not answer ${method} ${path.split('?')[0]!}`, {
      cause: r.cause
    })
  return r
}

/** `GET /_matrix/client/v3/account/whoami`: the user (and device) of an access token, or null for an unknown token. */
export async function whoami(a: HomeserverAuth): Promise<{ userId: string; deviceId?: string } | null> {
  const r = await call(a, 'GET', '/_matrix/client/v3/account/whoami')
  if (r.status === 401 || r.status === 403) return null
  if (r.status !== 200 || typeof r.json.user_id !== 'string')
    throw new IngressError('INGRESS_HOMESERVER', `whoami answered ${r.status}`)
  return { userId: r.json.user_id, ...(typeof r.json.device_id === 'string' ? { deviceId: r.json.device_id } : {}) }
}

export type SinkResult = 'delivered' | 'retry' | 'refused'

/**
 * `PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}?user_id=` with the application
 * service's as_token, as its bot user. The transaction id is the sealmix message id, so a
 * re-delivery after a crash is de-duplicated by the homeserver.
 */
export async function sendToDevice(
  a: HomeserverAuth,
  asUser: string,
  txnId: string,
  userId: string,
  deviceId: string,
  content: Record<string, unknown>,
  eventType = SEALED_EVENT_TYPE
): Promise<SinkResult> {
  const path = `/_matrix/client/v3/sendToDevice/${encodeURIComponent(eventType)}/${encodeURIComponent(txnId)}?user_id=${encodeURIComponent(asUser)}`
  let r: Awaited<ReturnType<typeof call>>
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

/**
 * `GET /_matrix/client/v3/rooms/{roomId}/joined_members` with the caller's own access token:
 * whether `userId` is joined. A homeserver answers 403 to a caller that is not in the room.
 */
export async function isJoined(a: HomeserverAuth, roomId: string, userId: string): Promise<boolean> {
  const r = await call(a, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`)
  if (r.status === 403 || r.status === 404) return false
  if (r.status !== 200) throw new IngressError('INGRESS_HOMESERVER', `joined_members answered ${r.status}`)
  const joined = r.json.joined
  return typeof joined === 'object' && joined !== null && Object.hasOwn(joined, userId)
}

/**
 * `POST /_matrix/client/v3/join/{roomId}?user_id=` as the application service's bot: true once the
 * bot is in the room (a member must have invited it, or the room is public).
 */
export async function joinAsBot(a: HomeserverAuth, asUser: string, roomId: string): Promise<boolean> {
  const r = await call(
    a,
    'POST',
    `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?user_id=${encodeURIComponent(asUser)}`,
    {}
  )
  if (r.status === 200) return true
  if (r.status === 403 || r.status === 404) return false
  throw new IngressError('INGRESS_HOMESERVER', `join answered ${r.status}`)
}

/**
 * `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}?user_id=` as the bot. The
 * transaction id is the message id: a re-delivery after a crash is de-duplicated by the homeserver.
 */
export async function sendToRoom(
  a: HomeserverAuth,
  asUser: string,
  txnId: string,
  roomId: string,
  eventType: string,
  content: Record<string, unknown>
): Promise<SinkResult> {
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(eventType)}/${encodeURIComponent(txnId)}?user_id=${encodeURIComponent(asUser)}`
  let r: Awaited<ReturnType<typeof call>>
  try {
    r = await call(a, 'PUT', path, content)
  } catch {
    return 'retry'
  }
  if (r.status === 200) return 'delivered'
  if (r.status === 401 || r.status === 429 || r.status >= 500) return 'retry'
  // 403: the bot is not (or no longer) in the room; 4xx: a request the homeserver will never take.
  return 'refused'
}
