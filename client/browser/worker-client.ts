/**
 * The page's handle on a SealmixClient that runs in a Web Worker (worker-host.ts): requests are
 * answered by promise, the client's events arrive as listeners' calls. Nothing here builds a
 * packet or touches a key; this module is small enough to load on a page's main thread.
 */
import type { WorkerAnswer, WorkerEvent, WorkerEventName, WorkerInit, WorkerRequest } from './protocol.ts'

/** The part of a Worker this client uses (a real Worker, or a MessagePort in tests). */
export interface WorkerLike {
  postMessage(m: WorkerRequest): void
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (e: { data?: unknown }) => void): void
}

/** A request the worker refused: its stable code and message. */
export class WorkerClientError extends Error {
  constructor(
    readonly code: string,
    message: string
  ) {
    super(message)
    this.name = 'WorkerClientError'
  }
}

type Listener = (e: WorkerEvent) => void

export class SealmixWorkerClient {
  readonly #worker: WorkerLike
  #next = 1
  /** Requests waiting for their answer; a page sends a few at a time, and each is answered once. */
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #listeners = new Map<WorkerEventName, Set<Listener>>()
  /** Why the worker is unusable, once it is. */
  #failed: string | null = null

  constructor(worker: WorkerLike) {
    this.#worker = worker
    // A worker that cannot load (a wrong path, a Content-Security-Policy without 'wasm-unsafe-eval'
    // or worker-src) or that throws at the top level says so only with an 'error' event: every
    // request waiting for it fails, and so does every later one.
    const broken = (why: string): void => {
      this.#failed = why
      for (const w of this.#waiting.values()) w.reject(new WorkerClientError('CLIENT_WORKER_FAILED', why))
      this.#waiting.clear()
    }
    worker.addEventListener('error', e => {
      const m = (e as { message?: unknown }).message
      broken(`the SDK's worker failed${typeof m === 'string' && m !== '' ? `: ${m}` : ' to load or run'}`)
    })
    worker.addEventListener('messageerror', () => broken('a message from the worker could not be read'))
    worker.addEventListener('message', e => {
      const m = e.data as WorkerAnswer | WorkerEvent
      if ('id' in m) {
        const w = this.#waiting.get(m.id)
        if (w === undefined) return
        this.#waiting.delete(m.id)
        if (m.ok) w.resolve(m.value)
        else w.reject(new WorkerClientError(m.code, m.message))
        return
      }
      for (const f of this.#listeners.get(m.event) ?? []) f(m)
    })
  }

  on<E extends WorkerEventName>(event: E, f: (e: Extract<WorkerEvent, { event: E }>) => void): this {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(f as Listener)
    return this
  }

  /** Boot the client in the worker; resolves with the device once it is running. */
  async init(init: WorkerInit): Promise<{ userId: string; deviceId: string }> {
    return (await this.#call({ op: 'init', init })) as { userId: string; deviceId: string }
  }

  /** Seal `text` to a contact card's device and queue it; resolves with the message id. */
  async send(contact: unknown, text: string): Promise<string> {
    return (await this.#call({ op: 'send', contact, text })) as string
  }

  /** Open a sealed envelope (base64) from the Matrix sync; a verified one also comes as 'received'. */
  async open(envelope: string): Promise<{ ok: boolean; code?: string }> {
    return (await this.#call({ op: 'open', envelope })) as { ok: boolean; code?: string }
  }

  /** Write the client's state and stop it. */
  async close(): Promise<void> {
    await this.#call({ op: 'close' })
  }

  async #call(r: DistributiveOmit<WorkerRequest, 'id'>): Promise<unknown> {
    if (this.#failed !== null) throw new WorkerClientError('CLIENT_WORKER_FAILED', this.#failed)
    const id = this.#next++
    return await new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      this.#worker.postMessage({ ...r, id } as WorkerRequest)
    })
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
