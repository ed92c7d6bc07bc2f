/**
 * The SDK inside a dedicated Web Worker: the page's main thread never builds a packet, seals an
 * envelope or waits on a socket, so cover traffic and fragments never hold up the page. The worker
 * boots a SealmixClient from a profile (directory authorities, SenderCert, capability), keeps its
 * state in IndexedDB through `level`, talks to its gateway with the worker's WebSocket, and relays
 * the client's events to the page as plain messages (protocol.ts). The page (worker-client.ts)
 * does the Matrix part: it syncs and hands sealed envelopes in with `open`.
 */
import type { CryptoSuite, NetworkDocument, VerifiedMessage } from '../../mix/index.ts'
import { bootClient } from '../boot.ts'
import { browserSocket } from '../browser-socket.ts'
import { ClientError } from '../errors.ts'
import type { LatencyStages } from '../latency.ts'
import { contactOf, profileKeys } from '../profile.ts'
import type { SealmixClient } from '../sdk.ts'
import type { ClientStore } from '../store.ts'
import type { WorkerAnswer, WorkerEvent, WorkerInit, WorkerRequest, WorkerStatus } from './protocol.ts'

/** The worker's global scope, as far as the host uses it. */
export interface WorkerScope {
  postMessage(m: WorkerAnswer | WorkerEvent): void
  onmessage: ((e: { data: WorkerRequest }) => void) | null
}

const UTF8 = new TextDecoder()
/** How often the page is sent the client's counters and link state. */
const STATUS_EVERY_MS = 1000
/** Start-up steps that fail (no document yet, the ingress API not answering) are tried again this often. */
const BOOT_RETRY_MS = 1000

export function serveWorker(scope: WorkerScope, loadSuite: () => Promise<CryptoSuite>): void {
  let client: SealmixClient | null = null
  let store: ClientStore | null = null
  let statusTimer: ReturnType<typeof setInterval> | undefined
  let releaseLock: () => void = () => {}
  const post = (e: WorkerEvent): void => scope.postMessage(e)

  async function boot(init: WorkerInit): Promise<{ userId: string; deviceId: string }> {
    if (client !== null) throw new ClientError('CLIENT_CONFIG_INVALID', 'this worker runs a client already')
    let c: CryptoSuite
    try {
      c = await loadSuite()
    } catch (e) {
      throw new ClientError(
        'CLIENT_CRYPTO_UNAVAILABLE',
        `the crypto suite did not load (a Content-Security-Policy must allow 'wasm-unsafe-eval'): ${describe(e)}`,
        { cause: e }
      )
    }
    const k = profileKeys(c, init.profile, 'profile')
    const p = k.profile
    if (p.directory === undefined)
      throw new ClientError('CLIENT_CONFIG_INVALID', 'profile: a browser client follows directory authorities')
    // One client per mailbox across the browser's tabs: two clients pulling one mailbox take each
    // other's acks, and IndexedDB has no lock of its own for the store. The lock is named by a hash
    // of the mailbox id, which is secret.
    const name = Buffer.alloc(16)
    c.blake2b(name, k.mailboxId)
    releaseLock = await holdLock(`sealmix-mailbox:${name.toString('hex')}`)
    try {
      return await run(c, k, init)
    } catch (e) {
      releaseLock()
      throw e
    }
  }

  async function run(
    c: CryptoSuite,
    k: ReturnType<typeof profileKeys>,
    init: WorkerInit
  ): Promise<{ userId: string; deviceId: string }> {
    const booted = await bootClient(c, k, {
      retry: untilDone,
      storeLocation: init.storeName,
      socket: browserSocket(),
      cover: init.cover
    })
    store = booted.store
    const cl = booted.client
    for (const name of ['up', 'down', 'routable'] as const) cl.on(name, () => post({ event: name }))
    cl.on('waiting', (e: { reason: string }) => post({ event: 'waiting', reason: e.reason }))
    cl.on('sent', (e: { messageId: string; index: number; attempt: number }) => post({ event: 'sent', ...e }))
    cl.on('acked', (e: { messageId: string; index: number; status: number }) =>
      post({ event: 'acked', messageId: e.messageId, index: e.index, status: e.status })
    )
    cl.on(
      'delivered',
      (e: { messageId: string; latencyMs: number; stages?: LatencyStages; attempts?: number; epochs?: number }) =>
        post({
          event: 'delivered',
          messageId: e.messageId,
          latencyMs: e.latencyMs,
          // Copied field by field: only plain numbers cross to the page.
          ...(e.stages === undefined ? {} : { stages: { ...e.stages } }),
          ...(e.attempts === undefined ? {} : { attempts: e.attempts }),
          ...(e.epochs === undefined ? {} : { epochs: e.epochs })
        })
    )
    cl.on('failed', (e: { messageId: string; code: string }) =>
      post({ event: 'failed', messageId: e.messageId, code: e.code })
    )
    cl.on('rejected', (e: { code: string }) => post({ event: 'rejected', code: e.code }))
    cl.on('duplicate', () => post({ event: 'duplicate' }))
    cl.on('store_failed', (e: { code: string }) => post({ event: 'store_failed', code: e.code }))
    cl.on('received', (m: VerifiedMessage) =>
      post({
        event: 'received',
        message: {
          from: m.sender.userId,
          deviceId: m.sender.deviceId,
          contentType: m.contentType,
          text: UTF8.decode(m.content),
          verified: true
        }
      })
    )
    client = cl
    cl.start()
    statusTimer = setInterval(() => post({ event: 'status', status: statusOf(cl) }), STATUS_EVERY_MS)
    return { userId: k.device.userId, deviceId: k.device.deviceId }
  }

  /**
   * Try `f` until it gives a value; a refusal is final. The page is told what start-up waits for
   * and, each time it changes, why the last try failed: a server that is not up yet and a URL
   * the browser refuses (CORS, a mixed-content block) look alike from here, so the page must see it.
   */
  async function untilDone<T>(step: string, f: () => Promise<T | null>): Promise<T> {
    let said: string | undefined | null = null
    for (;;) {
      let problem: string | undefined
      try {
        const v = await f()
        if (v !== null) return v
      } catch (e) {
        if (e instanceof ClientError && (e.code === 'CLIENT_REFUSED' || e.code === 'CLIENT_CONFIG_INVALID')) throw e
        problem = describe(e)
      }
      if (said !== problem) post({ event: 'booting', step, ...(problem !== undefined ? { problem } : {}) })
      said = problem
      await new Promise(resolve => setTimeout(resolve, BOOT_RETRY_MS))
    }
  }

  async function handle(r: WorkerRequest): Promise<unknown> {
    switch (r.op) {
      case 'init': {
        const who = await boot(r.init)
        post({ event: 'ready', ...who })
        return who
      }
      case 'send': {
        const id = running().send(contactOf(r.contact, 'contact'), r.text)
        // Answered once the message is in IndexedDB: a page reloaded right after still has it.
        await store?.flush()
        return id
      }
      case 'open': {
        const o = running().open(Buffer.from(r.envelope, 'base64'))
        return o.ok ? { ok: true } : { ok: false, code: o.code }
      }
      case 'close': {
        clearInterval(statusTimer)
        await client?.closeAndFlush()
        await store?.close()
        releaseLock()
        client = null
        store = null
        return null
      }
    }
  }

  function running(): SealmixClient {
    if (client === null) throw new ClientError('CLIENT_CONFIG_INVALID', 'the client has not been started (init)')
    return client
  }

  scope.onmessage = e => {
    const r = e.data
    handle(r).then(
      value => scope.postMessage({ id: r.id, ok: true, value }),
      (err: unknown) =>
        scope.postMessage({
          id: r.id,
          ok: false,
          code: err instanceof ClientError ? err.code : 'CLIENT_INTERNAL',
          message: err instanceof Error ? err.message : String(err)
        })
    )
  }
}

/** A failure's cause in one line: the code of a ClientError, or what the platform said. */
function describe(e: unknown): string {
  // A ClientError's message starts with its code already.
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ''
  return e instanceof Error ? `${e.message}${cause}` : String(e)
}

interface LockManager {
  request(name: string, o: { ifAvailable: true }, f: (lock: unknown) => Promise<void>): Promise<void>
}

/**
 * Hold the Web Lock `name` until the returned release is called; CLIENT_STORE_LOCKED when another
 * tab or worker of this origin holds it. Where the platform has no Web Locks, nothing is held.
 */
async function holdLock(name: string): Promise<() => void> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
  if (locks === undefined) return () => {}
  let release: () => void = () => {}
  const held = new Promise<boolean>(resolve => {
    void locks.request(name, { ifAvailable: true }, async lock => {
      if (lock === null) {
        resolve(false)
        return
      }
      resolve(true)
      await new Promise<void>(r => {
        release = r
      })
    })
  })
  if (!(await held))
    throw new ClientError(
      'CLIENT_STORE_LOCKED',
      'another tab or worker of this page runs this device already: one client per mailbox'
    )
  return () => release()
}

function statusOf(c: SealmixClient): WorkerStatus {
  const doc: NetworkDocument = c.network
  return {
    connected: c.connected,
    waitingFor: c.waitingFor,
    pending: c.pending,
    epoch: doc.epoch,
    relays: doc.relays.length,
    ingresses: doc.ingresses.length,
    stats: { ...c.stats }
  }
}
