/**
 * Key rotation on loopback with epochs of seconds (docs/PROTOCOL.md §18.1): three authorities,
 * five relays that follow them, an ingress listed by its own descriptor and a sender that builds
 * each packet with the document of the moment.
 * - Ten rotations under steady load, one authority stopped halfway: no relay fails, at most 0.1%
 *   of packets are lost, and once an epoch's grace window is over its private key is on no disk
 *   path (every file of the data directory is searched for its bytes) and its replay tags are gone.
 * - A gateway SIGKILLed in the middle of an epoch comes back with the same keys: it forwards fresh
 *   packets and drops a replay of a packet it forwarded before the kill.
 * - A relay that stops publishing leaves the documents; the layer before it then closes its link
 *   and refuses to forward to it (unknown_hop).
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import {
  type CryptoSuite,
  epochAt,
  epochStart,
  FRAME,
  loadCrypto,
  type Rng,
  Sphinx,
  systemRng
} from '../../mix/index.ts'
import { sentinelBarrier } from '../helpers/barrier.ts'
import { createEpochnet, type Epochnet } from '../helpers/epochnet.ts'
import { assertSubMultiset } from '../helpers/multiset.ts'
import { clientConn, G, httpGet, ingressConn, metric, sample, waitFor } from '../helpers/testnet.ts'

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap(f => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

const payload = (seq: number): Buffer => {
  const b = Buffer.alloc(G.userPayloadBytes)
  b.writeUInt32BE(seq, 0)
  b.write('epoch-test', 4)
  return b
}

describe('epochs and key rotation', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let sphinx: Sphinx
  let rng: Rng
  before(async function () {
    c = await loadCrypto('sodium-native')
    sphinx = new Sphinx(c, G)
    rng = systemRng(c)
  })

  describe('ten rotations under load', function () {
    let net: Epochnet
    before(async function () {
      net = await createEpochnet(c, { epochMs: 2000, graceMs: 800, maxSkewMs: 300 })
    })
    after(async function () {
      await net.stop()
    })

    it('loses at most 0.1% of packets, survives an authority going down, and erases old keys and replay tags', async function () {
      await Promise.all(net.nodes.map(async n => await net.start(n)))
      await waitFor(
        () => net.nodes.every(n => n.relay!.ready && n.relay!.linksUp.length === (n.name === 'mix3' ? 2 : 1)),
        20_000,
        'relays listed and linked'
      )
      const ingress = await ingressConn(c, net, net.byName('gwB'))
      const client = await clientConn(net.byName('gwA').port)
      await net.directory.refresh()
      const sched = net.schedule
      const first = epochAt(sched, Date.now())
      const secrets = new Map<number, Buffer>() // mix2's private key of each epoch, read while it exists
      const mix2 = net.byName('mix2')
      let sent = 0
      let refreshing = false
      let authorityDown = -1
      const sentIn = new Map<number, number>()
      while (epochAt(sched, Date.now()) < first + 11) {
        const now = Date.now()
        const e = epochAt(sched, now)
        if (!secrets.has(e) && existsSync(join(mix2.dir, 'keys', `mix-${e}.key`)))
          secrets.set(e, readFileSync(join(mix2.dir, 'keys', `mix-${e}.key`)))
        if (authorityDown < 0 && e >= first + 5) {
          await net.authorities[2]!.stop()
          authorityDown = e
        }
        if (!refreshing) {
          refreshing = true
          void net.directory.refresh().finally(() => {
            refreshing = false
          })
        }
        const doc = net.directory.current()!
        client.send(FRAME.PACKET, net.packetToIngress(doc, sphinx, payload(sent), rng))
        sentIn.set(e, (sentIn.get(e) ?? 0) + 1)
        sent++
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      // The last packets are in flight. One that is not delivered yet can still be once every relay
      // has retired the keys they were built with (after that, no hop can unwrap it) only if the exit
      // gateway has unwrapped it already: then it waits in its spool for the ingress. So the count
      // is final when every packet is delivered, or when every relay is past the loop's last epoch
      // and the exit's spool is empty; a busy machine only makes that take longer.
      const lastEpoch = first + 10
      const gwB = net.byName('gwB').relay!
      await waitFor(
        async () =>
          new Set(ingress.delivered.map(d => d.readUInt32BE(0))).size >= sent ||
          (net.nodes.every(n => n.relay!.liveEpochs.every(e => e > lastEpoch)) &&
            (await metric(gwB, 'sealmix_spool_packets')) === 0),
        60_000,
        'every packet delivered, or the keys of the last epoch retired and the exit spool empty'
      )
      const got = new Set(ingress.delivered.map(d => d.readUInt32BE(0)))
      assertSubMultiset(
        ingress.delivered.map(d => String(d.readUInt32BE(0))),
        Array.from({ length: sent }, (_, i) => String(i)),
        'deliveries: none twice, none never sent'
      )
      const lost = sent - got.size
      console.log(
        `      sent ${sent} packets over epochs ${first}..${first + 10}, delivered ${got.size}, lost ${lost}; authority 3 stopped in epoch ${authorityDown}`
      )
      assert.ok(sent > 500, 'steady load')
      assert.ok(lost * 1000 <= sent, `lost ${lost} of ${sent}`)
      const after = [...got].filter(
        s => s >= [...sentIn].filter(([e]) => e < authorityDown + 1).reduce((a, [, n]) => a + n, 0)
      )
      assert.ok(after.length > 100, 'packets kept flowing with one authority down')
      for (const n of net.nodes) assert.ok(n.relay!.ready, `${n.name} still ready`)

      // Every epoch whose grace window is over: key file gone, its bytes nowhere under the data directory, tags gone.
      const now = Date.now()
      const cur = epochAt(sched, now)
      const over = [...secrets.keys()].filter(
        e => e < cur - 1 || (e === cur - 1 && now > epochStart(sched, cur) + sched.graceMs + 300)
      )
      assert.ok(over.length >= 9, `old epochs checked: ${over.join(',')}`)
      const files = filesUnder(mix2.dir).map(f => readFileSync(f))
      for (const e of over) {
        assert.equal(existsSync(join(mix2.dir, 'keys', `mix-${e}.key`)), false, `mix-${e}.key deleted`)
        assert.ok(
          files.every(f => f.indexOf(secrets.get(e)!) < 0),
          `the key of epoch ${e} is on no disk path`
        )
        assert.equal(await mix2.relay!.replayTags(e), 0, `replay tags of epoch ${e} deleted`)
      }
      assert.ok(
        (await mix2.relay!.replayTags(cur)) + (await mix2.relay!.replayTags(cur - 1)) > 0,
        'live epochs do keep their tags'
      )
      assert.ok(mix2.relay!.liveEpochs.length <= 2 && mix2.relay!.liveEpochs.every(e => e >= cur - 1))
      ingress.close()
      client.close()
    })
  })

  describe('restart in the middle of an epoch', function () {
    let net: Epochnet
    before(async function () {
      net = await createEpochnet(c, { epochMs: 30_000, graceMs: 2000, maxSkewMs: 500, bootMs: 6000 })
    })
    after(async function () {
      await net.stop()
    })

    it('a gateway killed with SIGKILL forwards again with the same keys and drops a replay', async function () {
      const gwA = net.byName('gwA')
      await Promise.all(net.nodes.map(async n => (n.name === 'gwA' ? await net.spawn(n) : await net.start(n))))
      // Ready (listed) and linked: gwA's link to mix1 and mix3's to gwA.
      const linked = async (): Promise<boolean> =>
        (await httpGet(gwA.metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200 &&
        sample((await httpGet(gwA.metricsPort, '/metrics')).body, 'sealmix_connections', 'link="peer"') >= 2 &&
        net.nodes.every(
          n => n.relay === null || (n.relay.ready && n.relay.linksUp.length === (n.name === 'mix3' ? 2 : 1))
        )
      await waitFor(linked, 30_000, 'network ready')
      const ingress = await ingressConn(c, net, net.byName('gwB'))
      const doc = (await net.directory.refresh())!
      const before = net.nodes.filter(n => n.relay !== null).map(n => n.relay!.epoch)
      let client = await clientConn(gwA.port)
      const p1 = net.packetToIngress(doc, sphinx, payload(1), rng)
      client.send(FRAME.PACKET, p1)
      await waitFor(() => ingress.delivered.length === 1, 10_000, 'first delivery')
      client.close()
      const p = gwA.proc!
      await new Promise(resolve => {
        p.once('exit', resolve)
        p.kill('SIGKILL')
      })
      await net.spawn(gwA)
      await waitFor(linked, 30_000, 'gwA ready and linked again')
      assert.deepEqual(
        net.nodes.filter(n => n.relay !== null).map(n => n.relay!.epoch),
        before,
        'still the same epoch'
      )
      client = await clientConn(gwA.port)
      client.send(FRAME.PACKET, p1)
      client.send(FRAME.PACKET, net.packetToIngress(doc, sphinx, payload(2), rng))
      await waitFor(() => ingress.delivered.length === 2, 10_000, 'fresh packet after the restart')
      await waitFor(
        async () =>
          sample(
            (await httpGet(gwA.metricsPort, '/metrics')).body,
            'sealmix_packets_dropped_total',
            'reason="replay"'
          ) === 1,
        5000,
        'replay counted'
      )
      // Barrier (test/helpers/barrier.ts): a replay gwA forwarded would reach mix1 before the 2nd
      // sentinel (mix1, which forwarded it before the kill, would count it) and the ingress before the 6th.
      await sentinelBarrier({
        count: 6,
        make: i => payload(100 + i),
        send: b => client.send(FRAME.PACKET, net.packetToIngress(doc, sphinx, b, rng)),
        out: () => ingress.delivered
      })
      assert.equal(
        await metric(net.byName('mix1').relay!, 'sealmix_packets_dropped_total', { reason: 'replay' }),
        0,
        'the replay was not forwarded to mix1'
      )
      assert.deepEqual(
        ingress.delivered.map(d => d.readUInt32BE(0)),
        [1, 2, 100, 101, 102, 103, 104, 105],
        'the replay was not delivered'
      )
      client.close()
      ingress.close()
    })
  })

  describe('a relay that leaves the network', function () {
    let net: Epochnet
    before(async function () {
      net = await createEpochnet(c, { epochMs: 2000, graceMs: 800, maxSkewMs: 300 })
    })
    after(async function () {
      await net.stop()
    })

    it('is dropped from the documents, and the layer before it refuses to forward to it', async function () {
      await Promise.all(net.nodes.map(async n => await net.start(n)))
      const mix1 = net.byName('mix1')
      const mix2 = net.byName('mix2')
      await waitFor(
        () => net.nodes.every(n => n.relay!.ready) && mix1.relay!.linksUp.length === 1,
        20_000,
        'relays listed and linked'
      )
      const listed = (await net.directory.refresh())!
      assert.ok(listed.relays.some(r => r.id === mix2.keys.id))
      await mix2.relay!.stop()
      mix2.relay = null
      // Its last descriptor serves two more epochs at most; then documents go on without it.
      await waitFor(
        async () => {
          const d = await net.directory.refresh()
          return d !== null && !d.relays.some(r => r.id === mix2.keys.id)
        },
        15_000,
        'a document without mix2'
      )
      await waitFor(
        () => mix1.relay!.epoch === net.directory.current()!.epoch && mix1.relay!.linksUp.length === 0,
        5000,
        'mix1 follows it and drops its link'
      )
      // A packet with current keys for gwA and mix1 whose next hop is mix2: mix1 refuses it.
      const doc = net.directory.current()!
      const hop = (
        id: string,
        key: string
      ): { id: Buffer; publicKey: Buffer; commands: Array<{ type: 'node_delay'; delayMs: number }> } => ({
        id: Buffer.from(id, 'hex'),
        publicKey: Buffer.from(key, 'hex'),
        commands: [{ type: 'node_delay', delayMs: 0 }]
      })
      const key = (name: string): string => doc.relays.find(r => r.id === net.byName(name).keys.id)!.mixKey
      const before = await metric(mix1.relay!, 'sealmix_packets_dropped_total', { reason: 'unknown_hop' })
      const client = await clientConn(net.byName('gwA').port)
      client.send(
        FRAME.PACKET,
        sphinx.createPacket(
          [
            hop(net.byName('gwA').keys.id, key('gwA')),
            hop(mix1.keys.id, key('mix1')),
            hop(mix2.keys.id, listed.relays.find(r => r.id === mix2.keys.id)!.mixKey)
          ],
          payload(7),
          rng
        )
      )
      await waitFor(
        async () =>
          (await metric(mix1.relay!, 'sealmix_packets_dropped_total', { reason: 'unknown_hop' })) === before + 1,
        5000,
        'mix1 drops it as unknown_hop'
      )
      client.close()
    })
  })
})
