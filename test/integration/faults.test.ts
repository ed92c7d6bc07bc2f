/**
 * Faults with real processes killed by SIGKILL: a gateway holding a spool loses
 * nothing it committed; a relay killed in the middle of its rounds forwards nothing twice after
 * restart, even when every packet it ever saw is sent to it again.
 */
import assert from 'node:assert/strict'
import { type CryptoSuite, FRAME, loadCrypto, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import { sentinelBarrier } from '../helpers/barrier.ts'
import { assertSameMultiset, assertSubMultiset } from '../helpers/multiset.ts'
import {
  clientConn,
  createTestnet,
  G,
  httpGet,
  ingressConn,
  kill9,
  metric,
  type Node,
  randomBytes,
  sample,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'

/** A sentinel payload: recognizable, and unlike any random one. */
const sentinel = (i: number): Buffer => {
  const b = Buffer.alloc(G.userPayloadBytes)
  b.write(`sentinel ${i} ${Date.now()}`)
  return b
}
const hex = (bs: readonly Buffer[]): string[] => bs.map(b => b.toString('hex'))

describe('faults (real processes, SIGKILL)', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
  })
  afterEach(async function () {
    await net?.stop()
  })

  const packetFor = (payload: Buffer): Buffer => net.packetToIngress(sphinx, payload, rng)
  const scrape = async (n: Node): Promise<string> => (await httpGet(n.metricsPort, '/metrics')).body

  it('kill -9 of an exit gateway holding a spool: after restart every spooled message is delivered, each exactly once', async function () {
    net = await createTestnet(c)
    for (const name of ['gwA', 'mix1', 'mix2', 'mix3']) await net.start(net.byName(name))
    const gwB = net.byName('gwB')
    await net.spawn(gwB)
    await waitFor(
      () => net.linksUp(['gwA', 'mix1', 'mix2', 'mix3']),
      15_000,
      'in-process links up, mix3 -> both gateways'
    )
    const N = 60
    const payloads = Array.from({ length: N }, () => randomBytes(c, G.userPayloadBytes))
    const client = await clientConn(net.byName('gwA').port)
    for (const p of payloads) client.send(FRAME.PACKET, packetFor(p))
    await waitFor(
      async () => sample(await scrape(gwB), 'sealmix_spool_packets') === N,
      15_000,
      'all spooled at the exit'
    )
    await kill9(gwB)
    await net.spawn(gwB)
    assert.equal(sample(await scrape(gwB), 'sealmix_spool_packets'), N, 'the spool survived SIGKILL')
    const ing = await ingressConn(c, net, gwB)
    await waitFor(() => ing.delivered.length >= N, 15_000, 'every spooled message delivered')
    await waitFor(
      async () => sample(await scrape(gwB), 'sealmix_spool_packets') === 0,
      5000,
      'spool drained after acks'
    )
    await waitFor(() => net.linksUp(['mix3']), 15_000, 'mix3 linked again to the restarted gwB')
    // A copy sent again on this link comes before the sentinels (test/helpers/barrier.ts): then each exactly once.
    const sentinels = await sentinelBarrier({
      count: 6,
      make: sentinel,
      send: p => client.send(FRAME.PACKET, packetFor(p)),
      out: () => ing.delivered,
      ms: 15_000
    })
    assertSameMultiset(hex(ing.delivered), hex([...payloads, ...sentinels]), 'deliveries at the ingress')
    client.close()
    ing.close()
  })

  it('kill -9 in the middle of rounds: nothing is forwarded twice after restart, even when every packet is replayed', async function () {
    net = await createTestnet(c)
    for (const name of ['mix1', 'mix2', 'mix3', 'gwB']) await net.start(net.byName(name))
    const gwA = net.byName('gwA')
    await net.spawn(gwA)
    // gwA's gauge counts its link to mix1 and mix3's link to it: wait for both.
    await waitFor(async () => sample(await scrape(gwA), 'sealmix_connections', 'link="peer"') >= 2, 20_000, 'gwA links')
    await waitFor(() => net.linksUp(['mix1', 'mix2', 'mix3']), 15_000, 'in-process links up')
    const ing = await ingressConn(c, net, net.byName('gwB'))
    const N = 300
    const payloads = Array.from({ length: N }, () => randomBytes(c, G.userPayloadBytes))
    const packets = payloads.map(packetFor)
    let client = await clientConn(gwA.port)
    for (let i = 0; i < N; i++) {
      client.send(FRAME.PACKET, packets[i]!)
      if (i === 150) {
        await new Promise(resolve => setTimeout(resolve, 30))
        await kill9(gwA)
        break
      }
      if (i % 10 === 0) await new Promise(resolve => setTimeout(resolve, 5))
    }
    await net.spawn(gwA)
    await waitFor(
      async () => sample(await scrape(gwA), 'sealmix_connections', 'link="peer"') >= 2,
      20_000,
      'gwA links again'
    )
    client = await clientConn(gwA.port)
    for (const p of packets) client.send(FRAME.PACKET, p)
    await waitFor(
      async () => sample(await scrape(gwA), 'sealmix_packets_received_total', 'link="client"') === N,
      15_000,
      'all replays received'
    )
    // Barrier (test/helpers/barrier.ts): a packet gwA forwarded twice reaches mix1 before the 2nd
    // sentinel and the ingress before the 6th. Once they came out, mix1 has counted any replay and
    // the ingress has every copy.
    const sentinels = await sentinelBarrier({
      count: 6,
      make: sentinel,
      send: p => client.send(FRAME.PACKET, packetFor(p)),
      out: () => ing.delivered,
      ms: 15_000
    })
    const mix1 = net.byName('mix1').relay!
    assert.equal(
      await metric(mix1, 'sealmix_packets_dropped_total', { reason: 'replay' }),
      0,
      'mix1 never saw a packet twice: gwA forwarded nothing twice'
    )
    const replayedAtA = sample(await scrape(gwA), 'sealmix_packets_dropped_total', 'reason="replay"')
    assert.ok(replayedAtA > 0, 'the restarted gwA refused packets it had committed before the kill')
    const got = hex(ing.delivered)
    assertSubMultiset(got, hex([...payloads, ...sentinels]), 'deliveries at the ingress: none twice, none never sent')
    assert.ok(got.length > sentinels.length && got.length <= N + sentinels.length)
    client.close()
    ing.close()
  })
})
