/**
 * Boots a SealmixClient from a devnet profile for the browser benchmark's CPU measurement, the
 * same way in a Chromium worker (with the exports of dist/sealmix-client.js) and in a Node child
 * (with client/index.ts): the steps of client/browser/worker-host.ts, plus the `rates` option,
 * which the worker host does not take and which sets both clients to the SDK's default cover rates
 * whatever the devnet's document says. The SDK comes in as a parameter so that the browser side
 * runs the shipped bundle, not a second copy; nothing here may use Buffer or a node: module.
 */
import type * as Sdk from '../../client/index.ts'
import type { ClientRates, CryptoSuite } from '../../mix/index.ts'

export type ClientSdk = Pick<
  typeof Sdk,
  | 'ClientStore'
  | 'directoryClient'
  | 'fetchSenderCert'
  | 'profileKeys'
  | 'registerCapability'
  | 'SealmixClient'
  | 'storageKeyFor'
>

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
  const p = k.profile
  if (p.directory === undefined) throw new Error('the bench profile must follow directory authorities')
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
  const dir = sdk.directoryClient({ crypto: c, authorities: p.directory.authorities, maxSkewMs: p.directory.maxSkewMs })
  const network = await retry('network document', async () => await dir.refresh())
  const certs = await retry(
    'sender certificate',
    async () => await sdk.fetchSenderCert(p.ingressApi, p.homeserver.accessToken, k.device)
  )
  await retry('capability registration', async () => {
    await sdk.registerCapability(
      p.ingressApi,
      p.homeserver.accessToken,
      k.device.deviceId,
      k.capability.keyId,
      k.capability.publicKey
    )
    return true
  })
  const store = await sdk.ClientStore.open(o.storeLocation, c, sdk.storageKeyFor(c, k.device))
  const client = new sdk.SealmixClient({
    crypto: c,
    network,
    directory: dir,
    gatewayId: p.gateway,
    device: k.device,
    mailboxId: k.mailboxId,
    trust: k.trust,
    senderCert: certs.senderCert,
    serverCert: certs.serverCert,
    store,
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
