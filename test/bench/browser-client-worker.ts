/**
 * The browser benchmark's client worker: a SealmixClient at the default cover rates in a module Web
 * Worker in Chromium, from the shipped SDK bundle. browser.bench.ts bundles this file with the SDK
 * left out: the import of client/browser/index.ts becomes `./sealmix-client.js`, the file `npm run
 * build` made, served beside it. Its CPU time is read from outside, from the worker thread's
 * /proc schedstat; the worker only boots, reports counters and, for the control, spins.
 */
import * as sdk from '../../client/browser/index.ts'
import { type BenchClient, bootBenchClient, type ClientSample, sampleOf, spin } from './browser-client.ts'

export type ClientRequest =
  | {
      readonly id: number
      readonly op: 'init'
      readonly profile: unknown
      readonly storeLocation: string
      readonly rates: { readonly clientRatePerSec: number; readonly clientLoopRatePerSec: number }
      readonly deadlineMs: number
    }
  | { readonly id: number; readonly op: 'sample' }
  | { readonly id: number; readonly op: 'spin'; readonly ms: number }
  | { readonly id: number; readonly op: 'close' }

export type ClientAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

interface Scope {
  postMessage(m: ClientAnswer): void
  onmessage: ((e: { data: ClientRequest }) => void) | null
}

const scope = globalThis as unknown as Scope
let running: BenchClient | null = null

async function handle(r: ClientRequest): Promise<unknown> {
  switch (r.op) {
    case 'init': {
      const c = await sdk.createBrowserCrypto()
      running = await bootBenchClient(sdk, c, {
        profile: r.profile,
        storeLocation: r.storeLocation,
        rates: r.rates,
        socket: sdk.browserSocket(),
        deadlineMs: r.deadlineMs
      })
      return null
    }
    case 'sample':
      if (running === null) throw new Error('init first')
      return sampleOf(running.client) satisfies ClientSample
    case 'spin':
      return spin(r.ms)
    case 'close':
      await running?.close()
      running = null
      return null
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
