/**
 * The two client programs behind `sealmix send` and `sealmix listen`, built on the SDK: load a
 * profile, verify the network file (or fetch the document from directory authorities), fetch this device's SenderCert and register its capability
 * with its ingress, then send, or listen (collect envelopes from the homeserver's /sync, open and
 * verify them) and, in demo mode, chat with a peer.
 */

import { chmodSync, mkdirSync } from 'node:fs'
import {
  ClientError,
  ClientStore,
  type Contact,
  directoryClient,
  fetchSenderCert,
  registerCapability,
  SealmixClient,
  storageKeyFor
} from '../../client/index.ts'
import { networkFileProblem, readNetworkFile } from '../../daemon/index.ts'
import {
  CONTENT_TYPES,
  type CryptoSuite,
  type DirectoryClient,
  loadCrypto,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  SEALED_EVENT_TYPE,
  type VerifiedMessage
} from '../../mix/index.ts'
import { type LoadedProfile, loadContact, loadProfile } from './profile.ts'
import { quoted } from './room-demo-text.ts'
import { syncToDevice } from './sync.ts'

export interface AppIo {
  readonly print: (line: string) => void
  /** One JSON object per line instead of text. */
  readonly json?: boolean
}

/**
 * Until `deadlineMs` (or for good when it is undefined): a network that is starting up is waited
 * for, with one status line when the wait begins, and errors that a retry can fix are retried.
 */
export interface BootOptions extends AppIo {
  readonly deadlineMs?: number
  readonly stopped: () => boolean
  /**
   * How a status line is said (default: as `out` says it); the room demo names the member in it
   * and uses its own event names.
   */
  readonly say?: (event: 'waiting' | 'routable', fields: Record<string, unknown>, text: string) => void
  /**
   * The mailbox to pull (default: the profile's). A second client of a device that another
   * program already runs needs its own: two clients pulling one mailbox take each other's acks.
   */
  readonly mailboxOf?: (lp: LoadedProfile) => Buffer
  /**
   * A directory for the client's state (outbox, SURB tokens, room keys: client/store.ts), so that
   * a message sent before a restart is still acked after it. Default: state in memory only.
   */
  readonly state?: string
}

function say(o: BootOptions, event: 'waiting' | 'routable', fields: Record<string, unknown>, text: string): void {
  if (o.say !== undefined) o.say(event, fields, text)
  else out(o, event, fields, text)
}

/** A client for the profile, with its certificates and its capability registered; null when stopped first. */
export async function boot(
  c: CryptoSuite,
  profilePath: string,
  o: BootOptions
): Promise<{ lp: LoadedProfile; client: SealmixClient; close: () => Promise<void> } | null> {
  const lp = loadProfile(c, profilePath)
  const p = lp.profile
  let network: NetworkDocument | null
  let directory: DirectoryClient | undefined
  if (p.directory !== undefined) {
    const dir = directoryClient({ crypto: c, authorities: p.directory.authorities, maxSkewMs: p.directory.maxSkewMs })
    directory = dir
    network = await retry(
      o,
      'CLIENT_DIRECTORY_UNAVAILABLE',
      'a network document signed by a majority of the directory authorities',
      async () => await dir.refresh()
    )
  } else {
    network = loadNetworkFile(c, lp.networkFile!, p.network!.signers, Date.now())
  }
  if (network === null) return null
  const certs = await retry(
    o,
    'CLIENT_HOMESERVER',
    'a sender certificate from the ingress API',
    async () => await fetchSenderCert(p.ingressApi, p.homeserver.accessToken, lp.device)
  )
  if (certs === null) return null
  const registered = await retry(
    o,
    'CLIENT_HOMESERVER',
    "the ingress API to register this device's capability",
    async () => {
      await registerCapability(
        p.ingressApi,
        p.homeserver.accessToken,
        lp.device.deviceId,
        lp.capability.keyId,
        lp.capability.publicKey
      )
      return true
    }
  )
  if (registered === null) return null
  if (o.state !== undefined) {
    // As the profile's: the values are encrypted, but how many records and how large they are is not.
    mkdirSync(o.state, { recursive: true, mode: 0o700 })
    chmodSync(o.state, 0o700)
  }
  const store = o.state !== undefined ? await ClientStore.open(o.state, c, storageKeyFor(c, lp.device)) : undefined
  const client = new SealmixClient({
    crypto: c,
    store,
    network,
    directory,
    gatewayId: p.gateway,
    device: lp.device,
    mailboxId: o.mailboxOf?.(lp) ?? lp.mailboxId,
    trust: lp.trust,
    senderCert: certs.senderCert,
    serverCert: certs.serverCert
  })
  client.on('waiting', (e: { reason: string }) =>
    say(
      o,
      'waiting',
      { reason: e.reason },
      `waiting for a network document that can route: ${WAIT_TEXT[e.reason] ?? e.reason}`
    )
  )
  client.on('routable', () => say(o, 'routable', {}, "the network document routes this client's messages"))
  const close = async (): Promise<void> => {
    await client.closeAndFlush()
    await store?.close()
  }
  return { lp, client, close }
}

const WAIT_TEXT: Record<string, string> = {
  gateway_not_listed: 'the entry gateway is not listed yet',
  mix_layer_empty: 'a mix layer has no relay yet',
  no_ingress: "no ingress serves the recipient's server yet",
  ingress_unverified: "no ingress of the recipient's server is vouched for by a root key this profile trusts"
}

/**
 * Ask `f` every 500 ms until it gives a value; a refusal (CLIENT_REFUSED) is final. Null when
 * stopped. Past the deadline, the last error (or `code`) is thrown.
 */
export async function retry<T>(
  o: BootOptions,
  code: 'CLIENT_DIRECTORY_UNAVAILABLE' | 'CLIENT_HOMESERVER',
  what: string,
  f: () => Promise<T | null>
): Promise<T | null> {
  let said = false
  for (;;) {
    let last: unknown = null
    try {
      const v = await f()
      if (v !== null) return v
    } catch (e) {
      if (e instanceof ClientError && e.code === 'CLIENT_REFUSED') throw e
      last = e
    }
    if (o.stopped()) return null
    if (o.deadlineMs !== undefined && Date.now() > o.deadlineMs)
      throw last instanceof ClientError ? last : new ClientError(code, `no answer in time: ${what}`)
    if (!said) {
      say(o, 'waiting', { for: code }, `waiting for ${what}`)
      said = true
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

function out(io: AppIo, event: string, fields: Record<string, unknown>, text: string): void {
  io.print(io.json === true ? JSON.stringify({ event, ...fields }) : text)
}

/** Send one message and wait for the ingress's delivery ack. Resolves to the exit status. */
export async function runSend(
  o: AppIo & { profile: string; to: string; message: string; timeoutMs?: number; state?: string }
): Promise<number> {
  const c = await loadCrypto()
  const contact = loadContact(o.to)
  const booted = await boot(c, o.profile, {
    ...o,
    deadlineMs: Date.now() + (o.timeoutMs ?? 120_000),
    stopped: () => false
  })
  const { client, close } = booted!
  client.start()
  try {
    const id = client.send(contact, o.message)
    const r = await new Promise<{ ok: boolean; latencyMs?: number; code?: string }>(resolve => {
      const t = setTimeout(() => resolve({ ok: false, code: 'CLIENT_ACK_TIMEOUT' }), o.timeoutMs ?? 120_000)
      client.on('delivered', (e: { messageId: string; latencyMs: number }) => {
        if (e.messageId === id) {
          clearTimeout(t)
          resolve({ ok: true, latencyMs: e.latencyMs })
        }
      })
      client.on('failed', (e: { messageId: string; code: string }) => {
        if (e.messageId === id) {
          clearTimeout(t)
          resolve({ ok: false, code: e.code })
        }
      })
    })
    if (r.ok) {
      out(o, 'delivered', { messageId: id, latencyMs: r.latencyMs }, `delivered and acknowledged in ${r.latencyMs!} ms`)
      return 0
    }
    out(o, 'failed', { messageId: id, code: r.code }, `not delivered: ${r.code!}`)
    return r.code === 'CLIENT_REFUSED' ? 77 : 75
  } finally {
    const kept = o.state !== undefined ? client.pending : 0
    await close()
    if (kept > 0)
      out(
        o,
        'kept',
        { pending: kept },
        `${kept} message${kept === 1 ? '' : 's'} not yet acknowledged, kept in ${o.state!} for the next run`
      )
  }
}

export interface ListenOptions extends AppIo {
  readonly profile: string
  readonly stop: Promise<void>
  /**
   * Demo mode: contact cards to chat with. A message goes to the first every `everyMs`, and each
   * message received from a device of one of them is answered to that device.
   */
  readonly peers?: readonly string[]
  readonly everyMs?: number
  /** See BootOptions.state. */
  readonly state?: string
}

/** Collect, open and verify envelopes until `stop`; in demo mode, also chat with the peer. */
export async function runListen(o: ListenOptions): Promise<void> {
  const c = await loadCrypto()
  const peers: Contact[] = (o.peers ?? []).map(p => loadContact(p))
  const peer: Contact | undefined = peers[0]
  let stopped = false
  void o.stop.then(() => {
    stopped = true
  })
  const booted = await boot(c, o.profile, { ...o, stopped: () => stopped })
  if (booted === null) return
  const { lp, client, close } = booted
  const me = lp.device.userId.slice(1).split(':')[0]!
  const send = (text: string, to: Contact | undefined = peer): void => {
    if (to === undefined) return
    try {
      const id = client.send(to, text)
      out(o, 'sent', { messageId: id.slice(0, 8) }, `${me}: sent ${quoted(text)}`)
    } catch (e) {
      out(o, 'send_error', { code: (e as ClientError).code }, `${me}: cannot send: ${(e as Error).message}`)
    }
  }
  // `stages` and `epochs` (client/latency.ts) are for the devnet's tail breakdown; the text omits them.
  client.on('delivered', (e: { messageId: string; latencyMs: number; stages?: object; epochs?: number }) => {
    out(
      o,
      'delivered',
      { messageId: e.messageId.slice(0, 8), latencyMs: e.latencyMs, stages: e.stages, epochs: e.epochs },
      `${me}: delivered and acknowledged in ${e.latencyMs} ms`
    )
  })
  client.on('failed', (e: { messageId: string; code: string }) => {
    out(o, 'failed', { messageId: e.messageId.slice(0, 8), code: e.code }, `${me}: not delivered: ${e.code}`)
  })
  client.on('rejected', (e: { code: string }) =>
    out(o, 'rejected', { code: e.code }, `${me}: refused an envelope: ${e.code}`)
  )
  client.on('received', (m: VerifiedMessage) => {
    // Only plaintext is chat: a room key share (content type 9) reaches the same device, and is
    // the room's members' business (`sealmix room-demo`), not text to show or answer.
    if (m.contentType !== CONTENT_TYPES.plaintext) return
    const text = m.content.toString('utf8')
    out(
      o,
      'received',
      { from: m.sender.userId, bytes: m.content.length, text: text.slice(0, 200) },
      `${me}: from ${m.sender.userId} (${m.sender.deviceId}, certificate verified): ${quoted(text)}`
    )
    // The answer goes to the device that wrote, if it is a peer's: its card holds the capability.
    const from = peers.find(p => p.userId === m.sender.userId && p.deviceId === m.sender.deviceId)
    if (from !== undefined && !text.startsWith('re: ')) send(`re: ${text}`, from)
  })
  client.start()
  let n = 0
  const demo = peer !== undefined ? setInterval(() => send(`hello #${++n} from ${me}`), o.everyMs ?? 3000) : null
  const hs = { url: lp.profile.homeserver.url, token: lp.profile.homeserver.accessToken }
  let since: string | undefined
  // Start from now: envelopes from before this run were handled by an earlier one.
  try {
    since = (await syncToDevice(hs, undefined)).nextBatch
  } catch {
    since = undefined
  }
  while (!stopped) {
    try {
      const r = await Promise.race([syncToDevice(hs, since, 5000), o.stop.then(() => null)])
      if (r === null) break
      since = r.nextBatch
      for (const ev of r.events) {
        if (ev.type !== SEALED_EVENT_TYPE || typeof ev.content.envelope !== 'string') continue
        client.open(Buffer.from(ev.content.envelope, 'base64'))
      }
    } catch (e) {
      out(o, 'sync_error', { code: (e as ClientError).code }, `${me}: sync failed, retrying: ${(e as Error).message}`)
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
  }
  if (demo !== null) clearInterval(demo)
  await close()
}

function loadNetworkFile(c: CryptoSuite, file: string, signers: readonly string[], nowMs: number): NetworkDocument {
  const r = readNetworkFile(c, file, signers, NETWORK_GEOMETRY, nowMs)
  if (r.kind !== 'verified') throw new ClientError('CLIENT_NETWORK_INVALID', networkFileProblem(file, r)!)
  return r.doc
}
