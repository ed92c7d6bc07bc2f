/**
 * A running client's start from a profile that follows directory authorities: the first network
 * document, this device's certificates, its capability registered, its store opened, and the
 * SealmixClient made with them. The caller chooses how each step is retried (`retry`): the browser
 * worker (client/browser/worker-host.ts) retries until a refusal and tells the page why it waits;
 * a benchmark gives up at a deadline.
 */
import type { ClientRates, CryptoSuite } from '../mix/index.ts'
import { directoryClient } from './directory.ts'
import { ClientError } from './errors.ts'
import { fetchSenderCert, registerCapability } from './issuance.ts'
import type { SocketFactory } from './link.ts'
import type { Profile, ProfileKeys } from './profile.ts'
import { SealmixClient } from './sdk.ts'
import { ClientStore, storageKeyFor } from './store.ts'

/** Run `f` until it gives a value (a step of start-up, named by `step`); its own policy on failures. */
export type StartStep = <T>(step: string, f: () => Promise<T | null>) => Promise<T>

export interface BootOptions {
  readonly retry: StartStep
  /** The store's location: an IndexedDB name in a browser, a folder in Node. */
  readonly storeLocation: string
  readonly socket?: SocketFactory
  readonly rates?: Partial<ClientRates>
  readonly cover?: boolean
}

/** Steps named as the page is told them ('booting' events). */
export async function bootClient(
  c: CryptoSuite,
  k: ProfileKeys & { readonly profile: Profile },
  o: BootOptions
): Promise<{ client: SealmixClient; store: ClientStore }> {
  const p = k.profile
  if (p.directory === undefined)
    throw new ClientError('CLIENT_CONFIG_INVALID', 'profile: this client follows directory authorities')
  const dir = directoryClient({ crypto: c, authorities: p.directory.authorities, maxSkewMs: p.directory.maxSkewMs })
  const network = await o.retry('the network document', async () => await dir.refresh())
  const certs = await o.retry(
    'a sender certificate',
    async () => await fetchSenderCert(p.ingressApi, p.homeserver.accessToken, k.device)
  )
  await o.retry('capability registration', async () => {
    await registerCapability(
      p.ingressApi,
      p.homeserver.accessToken,
      k.device.deviceId,
      k.capability.keyId,
      k.capability.publicKey
    )
    return true
  })
  const store = await ClientStore.open(o.storeLocation, c, storageKeyFor(c, k.device))
  const client = new SealmixClient({
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
    ...(o.socket !== undefined ? { socket: o.socket } : {}),
    ...(o.rates !== undefined ? { rates: o.rates } : {}),
    ...(o.cover !== undefined ? { cover: o.cover } : {})
  })
  return { client, store }
}
