/**
 * The browser benchmark's packet worker: bundled by browser.bench.ts with the settings of
 * tools/build/browser.ts (the Buffer polyfill injected, the Node-only modules stubbed) and started
 * as a module Web Worker in Chromium. It builds real packets (browser-work.ts) with the browser
 * crypto binding, createBrowserCrypto from mix/, the code dist/sealmix-client.js exports, and times
 * batches of them on the worker's own clock.
 */
import { createBrowserCrypto } from '../../mix/index.ts'
import { calibrate, type PacketWork, packetCheck, packetWork, payloadRandom, timeBatch } from './browser-work.ts'

export type PacketRequest =
  | { readonly id: number; readonly op: 'init' }
  | { readonly id: number; readonly op: 'calibrate'; readonly ms: number }
  | { readonly id: number; readonly op: 'batch'; readonly n: number }
  /** The same two for the cover payload's random bytes. */
  | { readonly id: number; readonly op: 'calibrate-random'; readonly ms: number }
  | { readonly id: number; readonly op: 'batch-random'; readonly n: number }

export type PacketAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

interface Scope {
  postMessage(m: PacketAnswer): void
  onmessage: ((e: { data: PacketRequest }) => void) | null
}

const scope = globalThis as unknown as Scope
let work: PacketWork | null = null
let random: (() => void) | null = null

async function handle(r: PacketRequest): Promise<unknown> {
  if (r.op === 'init') {
    const c = await createBrowserCrypto()
    work = packetWork(c)
    random = payloadRandom(c)
    return { check: packetCheck(c) }
  }
  if (work === null || random === null) throw new Error('init first')
  const w = work
  switch (r.op) {
    case 'calibrate':
      return calibrate(() => w.once(), r.ms)
    case 'batch':
      return timeBatch(() => w.once(), r.n)
    case 'calibrate-random':
      return calibrate(random, r.ms)
    case 'batch-random':
      return timeBatch(random, r.n)
  }
}

scope.onmessage = e => {
  const r = e.data
  handle(r).then(
    value => scope.postMessage({ id: r.id, ok: true, value }),
    (err: unknown) =>
      scope.postMessage({ id: r.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
  )
}
