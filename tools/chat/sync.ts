/**
 * The to-device part of a Matrix `/sync`: how the demo recipient (`sealmix listen`) collects the
 * sealed envelopes that the ingress delivered to its device.
 */
import { ClientError } from '../../client/index.ts'
import { type HomeserverAuth, homeserverCall } from '../../daemon/index.ts'

export interface ToDeviceEvent {
  readonly type: string
  readonly sender: string
  readonly content: Record<string, unknown>
}

/** The to-device events of one `/sync` call, and the token for the next one. */
export async function syncToDevice(
  a: HomeserverAuth,
  since: string | undefined,
  timeoutMs = 0
): Promise<{ nextBatch: string; events: ToDeviceEvent[] }> {
  const q = new URLSearchParams({ timeout: String(timeoutMs), ...(since !== undefined ? { since } : {}) })
  const r = await homeserverCall(
    { ...a, timeoutMs: timeoutMs + (a.timeoutMs ?? 10_000) },
    'GET',
    `/_matrix/client/v3/sync?${q.toString()}`
  )
  if (r.kind === 'unreachable')
    throw new ClientError('CLIENT_HOMESERVER', 'the homeserver did not answer GET /_matrix/client/v3/sync', {
      cause: r.cause
    })
  if (r.status !== 200) throw new ClientError('CLIENT_HOMESERVER', `sync answered ${r.status}`)
  const td = r.json.to_device as { events?: unknown } | undefined
  const events = Array.isArray(td?.events)
    ? (td.events as ToDeviceEvent[]).filter(e => typeof e?.type === 'string' && typeof e.content === 'object')
    : []
  return { nextBatch: String(r.json.next_batch ?? since ?? ''), events }
}
