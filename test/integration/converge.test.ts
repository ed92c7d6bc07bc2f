/**
 * A network that starts up converges instead of racing its clients: an SDK client made
 * while the directory's document lists no relay at all does not throw; it says what it waits for
 * ('waiting', gateway_not_listed), dials its gateway once a later document lists it ('routable',
 * 'up') and then routes: its loop cover comes back through every layer. A message for a server
 * that no ingress serves waits for one and fails with CLIENT_NO_ROUTE (an event, not a throw)
 * once its wait is over. Real authorities, relays and sockets on loopback; epochs of 4 s.
 */
import assert from 'node:assert/strict'
import { type ClientOptions, SealmixClient } from '../../client/index.ts'
import { type CryptoSuite, loadCrypto, type NetworkDocument, systemRng } from '../../mix/index.ts'
import { createEpochnet, type Epochnet } from '../helpers/epochnet.ts'
import { makeDevice, makeServer, senderCert, xKeyPair } from '../helpers/seal.ts'
import { waitFor } from '../helpers/testnet.ts'

describe('start-up that converges', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Epochnet
  let client: SealmixClient | null = null

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createEpochnet(c, { epochMs: 4000, graceMs: 2000, maxSkewMs: 1000 })
  })
  after(async function () {
    client?.close()
    await net?.stop()
  })

  it('a client whose gateway is not listed yet waits, then connects and routes once a document lists every relay', async function () {
    // No relay runs yet: the first document lists none.
    let first: NetworkDocument | null = null
    await waitFor(
      async () => {
        first = await net.directory.refresh()
        return first !== null
      },
      60_000,
      'a first document from the authorities'
    )
    assert.equal(first!.relays.length, 0, 'no relay has published yet')

    const rng = systemRng(c)
    const server = makeServer(c, rng, 'example.org')
    const dev = makeDevice(c, rng, '@alice:example.org', 'ALICE')
    const o: ClientOptions = {
      crypto: c,
      network: first!,
      directory: net.directory,
      gatewayId: net.byName('gwA').keys.id,
      device: { userId: dev.userId, deviceId: dev.deviceId, x25519: dev.x, ed25519: dev.ed },
      mailboxId: rng.bytes(32),
      trust: { roots: () => [], serverCert: () => undefined, isRevoked: () => false },
      senderCert: senderCert(c, server, dev, { issuedMs: Date.now() - 1000, expiresMs: Date.now() + 3_600_000 }),
      serverCert: server.cert,
      rates: { clientRatePerSec: 5, clientLoopRatePerSec: 10 },
      routeWaitMs: 1500,
      minRetryMs: 100,
      maxRetryMs: 1000
    }
    const events: string[] = []
    client = new SealmixClient(o)
    client.on('waiting', (e: { reason: string }) => events.push(`waiting:${e.reason}`))
    client.on('routable', () => events.push('routable'))
    client.on('up', () => events.push('up'))
    const failed: Array<{ code: string }> = []
    client.on('failed', (e: { code: string }) => failed.push(e))
    client.start()
    assert.equal(client.waitingFor, 'gateway_not_listed')
    assert.deepEqual(events, ['waiting:gateway_not_listed'])

    // A message to a server with no ingress in any document: it waits, then fails as an event.
    const x = xKeyPair(c, rng)
    const id = client.send(
      {
        userId: '@bob:nowhere.example',
        deviceId: 'BOB',
        x25519: x.publicKey,
        capability: { keyId: 1, secretKey: c.signSeedKeypair(rng.bytes(32)).secretKey }
      },
      'hello'
    )
    assert.equal(client.pending, 1)
    await waitFor(() => failed.length === 1, 20_000, 'the unroutable message fails')
    assert.equal(failed[0]!.code, 'CLIENT_NO_ROUTE')
    assert.equal((failed[0] as unknown as { messageId: string }).messageId, id)

    // Now the relays start and publish; a later document lists them.
    await Promise.all(net.nodes.map(async n => await net.start(n)))
    await waitFor(() => client!.connected, 60_000, 'the client connects once its gateway is listed')
    assert.ok(
      events.indexOf('routable') > 0 && events.indexOf('routable') < events.indexOf('up'),
      `routable before up (${events.join(', ')})`
    )
    await waitFor(() => client!.stats.loopsReturned >= 3, 60_000, 'loop cover comes back through every layer')
    assert.equal(client.waitingFor, null)
  })
})
