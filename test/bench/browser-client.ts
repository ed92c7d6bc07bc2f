/**
 * Boots a SealmixClient from a devnet profile for the browser benchmark's CPU measurement, the
 * same way in a Chromium worker (with the exports of dist/sealmix-client.js) and in a Node child
 * (with client/index.ts): the SDK's bootClient, as client/browser/worker-host.ts starts one, with
 * the `rates` option, which the worker host does not take and which sets both clients to the SDK's
 * default cover rates whatever the devnet's document says. The SDK comes in as a parameter so that the browser side
 * runs the shipped bundle, not a second copy; nothing here may use Buffer or a node: module.
 */
import type * as Sdk from '../../client/index.ts'
import type { ClientRates, CryptoSuite } from '../../mix/index.ts'

export type ClientSdk = Pick<typeof Sdk, 'bootClient' | 'profileKeys'>

export interface BenchClient {
  readonly client: Sdk.SealmixClient
  close(): Promise<void>
}

export interface BootOptions {
  readonly profile: unknown
  /** Where the client's state is kept: an IndexedDB name in a browser, a folder in Node. */
  readonly storeLocation: string
  readonly rates: Pick<ClientRates, 'clientRatePerSec' | 'clientLoopRatePerSec'>
  readonly socket?: Sdk.SocketFactory
  /** Give up on start-up after this long (the devnet is up when the bench boots a client). */
  readonly deadlineMs: number
}

export async function bootBenchClient(sdk: ClientSdk, c: CryptoSuite, o: BootOptions): Promise<BenchClient> {
  const k = sdk.profileKeys(c, o.profile, 'profile')
  const until = Date.now() + o.deadlineMs
  // Start-up steps can miss once while the devnet settles (worker-host.ts retries them the same way).
  const retry = async <T>(step: string, f: () => Promise<T | null>): Promise<T> => {
    let last: unknown
    while (Date.now() < until) {
      try {
        const v = await f()
        if (v !== null) return v
      } catch (e) {
        last = e
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    throw new Error(`start-up: no ${step} within ${o.deadlineMs} ms${last instanceof Error ? `: ${last.message}` : ''}`)
  }
  const { client, store } = await sdk.bootClient(c, k, {
    retry,
    storeLocation: o.storeLocation,
    rates: o.rates,
    ...(o.socket !== undefined ? { socket: o.socket } : {})
  })
  client.start()
  return {
    client,
    async close() {
      await client.closeAndFlush().catch(() => undefined)
      await store.close()
    }
  }
}

/** What a client reports at each sample: its counters and link, and the thread's clock for the window. */
export interface ClientSample {
  readonly connected: boolean
  readonly stats: Readonly<Record<string, number>>
  /** Packets the client built and sent: real, drop cover and loop cover. */
  readonly packets: number
}

export function sampleOf(client: Sdk.SealmixClient): ClientSample {
  const s = client.stats
  return {
    connected: client.connected,
    stats: { ...s },
    packets: s.realSent + s.dropSent + s.loopsSent
  }
}

/** Keep the thread busy for `ms`: the positive control of the CPU measurement. */
export function spin(ms: number): number {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) n++
  return n
}
