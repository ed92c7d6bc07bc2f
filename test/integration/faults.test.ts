/**
 * Faults with real processes killed by SIGKILL (TESTPLAN B): a gateway holding a spool loses
 * nothing it committed; a relay killed in the middle of its rounds forwards nothing twice after
 * restart, even when every packet it ever saw is sent to it again.
 */
import assert from 'node:assert/strict'
import { FRAME, loadCrypto, Sphinx, systemRng, type CryptoSuite, type Rng } from '../../mix/index.ts'
import { clientConn, createTestnet, G, httpGet, ingressConn, kill9, metric, randomBytes, sample, waitFor, type Node, type Testnet } from '../helpers/testnet.ts'

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
  afterEach(async function () { await net?.stop() })

  const packetFor = (payload: Buffer): Buffer => net.packetToIngress(sphinx, payload, rng)
  const scrape = async (n: Node): Promise<string> => (await httpGet(n.metricsPort, '/metrics')).body

  it('kill -9 of an exit gateway holding a spool: after restart every spooled message is delivered, each exactly once after de-duplication', async function () {
    net = await createTestnet(c)
    for (const name of ['gwA', 'mix1', 'mix2', 'mix3']) await net.start(net.byName(name))
    const gwB = net.byName('gwB')
    await net.spawn(gwB)
    await waitFor(() => net.linksUp(['gwA', 'mix1', 'mix2', 'mix3']), 15_000, 'in-process links up, mix3 -> both gateways')
    const N = 60
    const payloads = Array.from({ length: N }, () => randomBytes(c, G.userPayloadBytes))
    const client = await clientConn(net.byName('gwA').port)
    for (const p of payloads) client.send(FRAME.PACKET, packetFor(p))
    await waitFor(async () => sample(await scrape(gwB), 'sealmix_spool_packets') === N, 15_000, 'all spooled at the exit')
    await kill9(gwB)
    await net.spawn(gwB)
    assert.equal(sample(await scrape(gwB), 'sealmix_spool_packets'), N, 'the spool survived SIGKILL')
    const ing = await ingressConn(c, net, gwB)
    await waitFor(() => new Set(ing.delivered.map(b => b.toString('hex'))).size === N, 15_000, 'every spooled message delivered')
    const got = new Set(ing.delivered.map(b => b.toString('hex')))
    assert.deepEqual(got, new Set(payloads.map(p => p.toString('hex'))))
    await waitFor(async () => sample(await scrape(gwB), 'sealmix_spool_packets') === 0, 5000, 'spool drained after acks')
    client.close(); ing.close()
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
    const packets = Array.from({ length: N }, () => packetFor(randomBytes(c, G.userPayloadBytes)))
    let client = await clientConn(gwA.port)
    for (let i = 0; i < N; i++) {
      client.send(FRAME.PACKET, packets[i]!)
      if (i === 150) { await new Promise(resolve => setTimeout(resolve, 30)); await kill9(gwA); break }
      if (i % 10 === 0) await new Promise(resolve => setTimeout(resolve, 5))
    }
    await net.spawn(gwA)
    await waitFor(async () => sample(await scrape(gwA), 'sealmix_connections', 'link="peer"') >= 2, 20_000, 'gwA links again')
    client = await clientConn(gwA.port)
    for (const p of packets) client.send(FRAME.PACKET, p)
    await waitFor(async () => sample(await scrape(gwA), 'sealmix_packets_received_total', 'link="client"') === N, 15_000, 'all replays received')
    await new Promise(resolve => setTimeout(resolve, 500))
    const mix1 = net.byName('mix1').relay!
    assert.equal(await metric(mix1, 'sealmix_packets_dropped_total', { reason: 'replay' }), 0, 'mix1 never saw a packet twice: gwA forwarded nothing twice')
    const replayedAtA = sample(await scrape(gwA), 'sealmix_packets_dropped_total', 'reason="replay"')
    assert.ok(replayedAtA > 0, 'the restarted gwA refused packets it had committed before the kill')
    const ids = ing.delivered.map(b => b.toString('hex'))
    assert.equal(new Set(ids).size, ids.length, 'no message delivered twice')
    assert.ok(ids.length > 0 && ids.length <= N)
    client.close(); ing.close()
  })
})
