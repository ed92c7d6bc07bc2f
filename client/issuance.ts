/**
 * The client's side of the ingress API: fetch a SenderCert for this device and register the
 * capability key that contacts sign deliveries with. Call them on a schedule (for example at a
 * random time within the certificate's lifetime), never just before a send, so that issuance does
 * not correlate with sending (docs/PROTOCOL.md §11).
 */
import { parseSenderCert, parseServerCert, type SenderCert, type ServerCert } from '../mix/index.ts'
import { ClientError } from './errors.ts'
import type { RegisteredRoomKey, RoomKey } from './rooms.ts'
import type { Device } from './sdk.ts'

async function call(
  apiUrl: string,
  accessToken: string,
  method: string,
  path: string,
  body: unknown
): Promise<Record<string, unknown>> {
  let res: Response
  try {
    res = await fetch(apiUrl.replace(/\/+$/, '') + path, {
      method,
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000)
    })
  } catch (e) {
    throw new ClientError('CLIENT_HOMESERVER', `the ingress API did not answer ${method} ${path}`, { cause: e })
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>
  if (res.status !== 200)
    throw new ClientError(
      res.status === 401 || res.status === 403 || res.status === 409 ? 'CLIENT_REFUSED' : 'CLIENT_HOMESERVER',
      `${method} ${path} answered ${res.status} ${String(json.errcode ?? '')}`
    )
  return json
}

export async function fetchSenderCert(
  apiUrl: string,
  accessToken: string,
  d: Device
): Promise<{ senderCert: SenderCert; serverCert: ServerCert }> {
  const j = await call(apiUrl, accessToken, 'POST', '/_sealmix/v1/sender_cert', {
    device_id: d.deviceId,
    x25519: Buffer.from(d.x25519.publicKey).toString('hex'),
    ed25519: Buffer.from(d.ed25519.publicKey).toString('hex')
  })
  const sc = parseSenderCert(Buffer.from(String(j.sender_cert), 'base64'))
  const sv = parseServerCert(Buffer.from(String(j.server_cert), 'base64'))
  if (!sc.ok || !sv.ok) throw new ClientError('CLIENT_HOMESERVER', 'the ingress answered with a malformed certificate')
  return { senderCert: sc.value, serverCert: sv.value }
}

/**
 * Register this device's capability key (or rotate to a new one). `block`: the previous key stops
 * working at once instead of after its 24-hour grace, cutting off whoever held it.
 */
export async function registerCapability(
  apiUrl: string,
  accessToken: string,
  deviceId: string,
  keyId: number,
  publicKey: Uint8Array,
  o: { block?: boolean } = {}
): Promise<void> {
  await call(apiUrl, accessToken, 'PUT', '/_sealmix/v1/capability', {
    device_id: deviceId,
    key_id: keyId,
    public_key: Buffer.from(publicKey).toString('hex'),
    ...(o.block === true ? { block: true } : {})
  })
}

/**
 * Register a room's send key with the ingress of `key.server` (the caller must be joined to the
 * room, and the ingress's bot invited), or rotate to it: a key made by nextRoomKey carries the
 * proof, and its `block` ends the replaced key at once. Answers 'registered', 'rotated' or
 * 'unchanged'; a refusal throws CLIENT_REFUSED naming the reason.
 */
export async function registerRoomKey(apiUrl: string, accessToken: string, key: RoomKey): Promise<string> {
  const j = await call(apiUrl, accessToken, 'PUT', '/_sealmix/v1/room_key', {
    room_id: key.roomId,
    key_id: key.keyId,
    public_key: key.publicKey.toString('hex'),
    ...(key.proof.length > 0 ? { proof: key.proof.toString('hex') } : {}),
    ...(key.block ? { block: true } : {})
  })
  return String(j.result)
}

/**
 * The send key the ingress of the room's server holds now for `roomId` (the caller must be joined
 * to the room), or null when it holds none: what a member checks a shared room key against.
 */
export async function fetchRoomKey(apiUrl: string, accessToken: string, roomId: string): Promise<RegisteredRoomKey> {
  const j = await call(apiUrl, accessToken, 'POST', '/_sealmix/v1/room_key/current', { room_id: roomId })
  if (j.key_id === null) return null
  if (typeof j.key_id !== 'number' || typeof j.public_key !== 'string' || !/^[0-9a-f]{64}$/.test(j.public_key))
    throw new ClientError('CLIENT_HOMESERVER', 'the ingress answered with a malformed room key')
  return { keyId: j.key_id, publicKey: Buffer.from(j.public_key, 'hex') }
}
