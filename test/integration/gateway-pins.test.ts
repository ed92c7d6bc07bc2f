/**
 * A gateway whose operator pinned the homeservers it serves (`ingressRoots`) links only to
 * ingresses whose binding one of those root keys signed: with another server root pinned for
 * example.org, the real ingress's link is refused at the handshake (counted); with its own root
 * pinned, the same ingress links. Real relays, ingress and sockets on loopback.
 */
import assert from 'node:assert/strict'
import { parseConfig } from '../../daemon/index.ts'
import { type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { type Chat, createChat } from '../helpers/chat.ts'
import { createTestnet, metric, type Testnet, waitFor } from '../helpers/testnet.ts'

describe('a gateway that pins the homeservers it serves', function () {
  this.timeout(90_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c)
  })
  after(async function () {
    await chat?.stop()
    await net?.stop()
  })

  it('refuses the link of an ingress whose binding is not signed by the pinned root, and takes it with the right root', async function () {
    const gwB = net.byName('gwB')
    const pin = (root: Buffer): void => {
      gwB.config = parseConfig({ ...gwB.raw, ingressRoots: { 'example.org': [root.toString('hex')] } }, gwB.dir)
    }
    // Another server's root pinned for example.org: the real ingress is not vouched for here.
    pin(c.signSeedKeypair(Buffer.alloc(32, 200)).publicKey as Buffer)
    for (const n of net.nodes) await net.start(n)
    chat = await createChat(c, net)
    const ingress = await chat.startIngress()
    await waitFor(
      async () => (await metric(gwB.relay!, 'sealmix_handshake_failures_total', { link: 'ingress' })) >= 2,
      30_000,
      'ingress handshakes refused'
    )
    assert.equal(ingress.linksUp, 0)
    // The right root: the same ingress links.
    await gwB.relay!.stop()
    pin(net.ingress.serverRoot)
    await net.start(gwB)
    await waitFor(() => ingress.linksUp === 1, 30_000, 'the ingress links once its root is pinned')
  })
})
