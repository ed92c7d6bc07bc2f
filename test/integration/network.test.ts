/**
 * A network on loopback (2 gateways, one mix per layer), real sockets, real LevelDB, worker
 * threads: packets reach the exit and its ingress; SURB replies reach a client mailbox; replays
 * are dropped at once and after a restart; bad frames are dropped and counted.
 */
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import {
  type CryptoSuite,
  encodeFrame,
  FRAME,
  loadCrypto,
  type PathHop,
  parseFrame,
  type Rng,
  Sphinx,
  systemRng
} from '../../mix/index.ts'
import { sentinelBarrier } from '../helpers/barrier.ts'
import { assertSameMultiset } from '../helpers/multiset.ts'
import {
  clientConn,
  createTestnet,
  G,
  ingressConn,
  metric,
  randomBytes,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'

/** A sentinel payload: recognizable, and unlike any random one. */
const sentinel = (i: number): Buffer => {
  const b = Buffer.alloc(G.userPayloadBytes)
  b.write(`sentinel ${i} ${Date.now()}`)
  return b
}

describe('relay network on loopback', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
    net = await createTestnet(c)
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
  })
  after(async function () {
    await net?.stop()
  })

  const delay: PathHop['commands'] = [{ type: 'node_delay', delayMs: 0 }]

  it("carries packets from a client through all layers to the exit's ingress", async function () {
    const ing = await ingressConn(c, net, net.byName('gwB'))
    const client = await clientConn(net.byName('gwA').port)
    const payloads = Array.from({ length: 20 }, () => randomBytes(c, G.userPayloadBytes))
    for (const p of payloads) client.send(FRAME.PACKET, net.packetToIngress(sphinx, p, rng))
    await waitFor(() => ing.delivered.length >= 20, 10_000, 'deliveries')
    // A copy delivered late comes out before the last sentinel (test/helpers/barrier.ts): then each payload exactly once.
    const sentinels = await sentinelBarrier({
      count: 6,
      make: sentinel,
      send: p => client.send(FRAME.PACKET, net.packetToIngress(sphinx, p, rng)),
      out: () => ing.delivered
    })
    assertSameMultiset(
      ing.delivered.map(b => b.toString('hex')),
      [...payloads, ...sentinels].map(b => b.toString('hex')),
      'deliveries at the ingress'
    )
    await waitFor(
      async () => (await metric(net.byName('gwB').relay!, 'sealmix_delivered_total', { link: 'ingress' })) >= 26,
      5000,
      'acks'
    )
    client.close()
    ing.close()
  })

  it("brings a SURB reply back to the client's mailbox; a pull returns a constant number of frames", async function () {
    const mailboxId = randomBytes(c, 32)
    const surbId = randomBytes(c, 16)
    const replyPath: PathHop[] = [
      net.hop('gwB', delay),
      net.hop('mix1', delay),
      net.hop('mix2', delay),
      net.hop('mix3', delay),
      net.hop('gwA', [
        { type: 'recipient', id: mailboxId },
        { type: 'surb_reply', id: surbId }
      ])
    ]
    const { surb, token } = sphinx.createSurb(replyPath, rng)
    const reply = randomBytes(c, G.userPayloadBytes)
    const { packet } = sphinx.packetFromSurb(surb, reply)
    const ing = await ingressConn(c, net, net.byName('gwB'))
    ing.ws.send(encodeFrame(G, FRAME.PACKET, packet))
    const gwA = net.byName('gwA').relay!
    await waitFor(async () => (await metric(gwA, 'sealmix_mailbox_packets')) >= 1, 10_000, 'mailbox')
    const client = await clientConn(net.byName('gwA').port)
    client.send(FRAME.PULL, mailboxId)
    await waitFor(() => client.frames.length >= 16, 5000, 'pull answer')
    // Barrier: a second pull of the same mailbox, sent now, is answered after the first answer's
    // last frame, starting with the stored reply (unacknowledged, so still stored). Were the first
    // answer not exactly 16 frames, frame 16 would not be that reply.
    client.send(FRAME.PULL, mailboxId)
    await waitFor(() => client.frames.length >= 32, 5000, 'second pull answer')
    const stored = client.frames.slice(0, 16).filter(f => {
      const p = parseFrame(G, f)
      return p?.kind === FRAME.MAILBOX && p.body.subarray(8, 24).equals(surbId)
    })
    assert.equal(stored.length, 1, 'the reply is in the first answer')
    assert.deepEqual(
      client.frames[16],
      stored[0],
      'exactly pullBatch frames: the second answer starts right after the 16th, with the stored reply'
    )
    client.frames.splice(16)
    assert.ok(
      client.frames.every(f => f.length === G.packetBytes + 1),
      'every frame has the one size'
    )
    const opened = client.frames
      .map(f => parseFrame(G, f)!)
      .filter(f => f.kind === FRAME.MAILBOX)
      .map(f => ({
        seq: f.body.subarray(0, 8),
        surbId: f.body.subarray(8, 24),
        body: f.body.subarray(24, 24 + G.bodyBytes)
      }))
    const mine = opened.filter(o => o.surbId.equals(surbId))
    assert.equal(mine.length, 1)
    assert.deepEqual(sphinx.decryptSurbPayload(mine[0]!.body, token), reply)
    client.send(FRAME.ACK, mine[0]!.seq)
    await waitFor(
      async () => (await metric(gwA, 'sealmix_delivered_total', { link: 'client' })) >= 1,
      5000,
      'mailbox ack'
    )
    client.close()
    ing.close()
  })

  it('drops a replayed packet at once, and again after the relay restarts', async function () {
    const gwA = net.byName('gwA')
    const client = await clientConn(gwA.port)
    const pkt = net.packetToIngress(sphinx, randomBytes(c, G.userPayloadBytes), rng)
    const before = await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'replay' })
    const sentBefore = await metric(gwA.relay!, 'sealmix_packets_sent_total', { link: 'peer' })
    client.send(FRAME.PACKET, pkt)
    client.send(FRAME.PACKET, pkt)
    await waitFor(
      async () => (await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'replay' })) === before + 1,
      5000,
      'replay drop'
    )
    // The first copy left, so its round committed the tag (commit comes before any send).
    await waitFor(
      async () => (await metric(gwA.relay!, 'sealmix_packets_sent_total', { link: 'peer' })) > sentBefore,
      5000,
      'the first copy forwarded'
    )
    client.close()
    await gwA.relay!.stop()
    const restarted = await net.start(gwA)
    const again = await clientConn(gwA.port)
    again.send(FRAME.PACKET, pkt)
    await waitFor(
      async () => (await metric(restarted, 'sealmix_packets_dropped_total', { reason: 'replay' })) === 1,
      5000,
      'replay drop after restart'
    )
    assert.equal(await metric(restarted, 'sealmix_packets_sent_total', { link: 'peer' }), 0, 'nothing forwarded')
    again.close()
  })

  it('drops malformed, wrong-size and text frames and counts them', async function () {
    const gwA = net.byName('gwA').relay!
    const before = await metric(gwA, 'sealmix_packets_dropped_total', { reason: 'malformed' })
    const client = await clientConn(net.byName('gwA').port)
    client.ws.send(Buffer.alloc(100))
    client.ws.send('hello')
    client.ws.send(Buffer.alloc(G.packetBytes + 1, 0x42))
    const junk = Buffer.alloc(G.packetBytes + 1)
    junk[0] = FRAME.PACKET
    client.ws.send(junk)
    await waitFor(
      async () => (await metric(gwA, 'sealmix_packets_dropped_total', { reason: 'malformed' })) >= before + 4,
      5000,
      'malformed drops'
    )
    assert.equal(client.ws.readyState, WebSocket.OPEN, 'the connection stays up')
    client.close()
  })

  it('closes an oversized frame with 1009 and never negotiates permessage-deflate', async function () {
    const client = await clientConn(net.byName('gwA').port, { perMessageDeflate: true })
    assert.equal(client.response.headers['sec-websocket-extensions'], undefined)
    const code = await new Promise<number>(resolve => {
      client.ws.once('close', code => resolve(code))
      client.ws.send(Buffer.alloc(G.packetBytes + 2))
    })
    assert.equal(code, 1009)
  })
})

describe('cover traffic on loopback', function () {
  this.timeout(60_000)
  let net: Testnet
  after(async function () {
    await net?.stop()
  })

  it("every relay's loops come back through the other layers, and idle rounds carry link-padding cover", async function () {
    const c = await loadCrypto('sodium-native')
    net = await createTestnet(c, { mixing: { loopRatePerSec: 20, minBatch: 2 } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'links up')
    await waitFor(
      async () =>
        (await Promise.all(net.nodes.map(async n => await metric(n.relay!, 'sealmix_loops_returned_total')))).every(
          v => v >= 5
        ),
      20_000,
      'loops returned at every relay'
    )
    for (const n of net.nodes) {
      const r = n.relay!
      assert.ok((await metric(r, 'sealmix_loop_success_ratio')) >= 0.9, `${n.name} loop success`)
      assert.ok((await metric(r, 'sealmix_cover_sent_total', { kind: 'link' })) > 0, `${n.name} sent padding`)
      assert.ok((await metric(r, 'sealmix_cover_received_total')) > 0, `${n.name} received padding`)
      assert.equal(
        await metric(r, 'sealmix_packets_dropped_total', { reason: 'malformed' }),
        0,
        `${n.name}: cover and loops are well-formed packets`
      )
      assert.equal(await metric(r, 'sealmix_packets_dropped_total', { reason: 'unknown_hop' }), 0)
    }
  })
})

describe('TLS on loopback', function () {
  this.timeout(60_000)
  let net: Testnet
  after(async function () {
    await net?.stop()
  })

  it('a gateway serving wss:// takes authenticated relay links and client packets over TLS', async function () {
    const c = await loadCrypto('sodium-native')
    const rng = systemRng(c)
    const sphinx = new Sphinx(c)
    net = await createTestnet(c, { tls: ['gwA', 'gwB'] })
    assert.ok(net.doc.relays.filter(r => r.role === 'gateway').every(r => r.address.startsWith('wss://')))
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'all links up (mix3 -> both gateways over wss)')
    const ws = new WebSocket(`wss://127.0.0.1:${net.byName('gwA').port}/client`, {
      rejectUnauthorized: false,
      perMessageDeflate: false
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    ws.send(encodeFrame(G, FRAME.HELLO, Buffer.from([1, 3]), Buffer.alloc(64)))
    const ing = await ingressConnTls(c, net)
    const payload = randomBytes(c, G.userPayloadBytes)
    ws.send(encodeFrame(G, FRAME.PACKET, net.packetToIngress(sphinx, payload, rng)))
    await waitFor(() => ing.delivered.length === 1, 10_000, 'delivery over TLS')
    assert.deepEqual(ing.delivered[0], payload)
    ws.close()
    ing.close()
  })
})

async function ingressConnTls(c: CryptoSuite, net: Testnet): Promise<{ delivered: Buffer[]; close: () => void }> {
  const { FrameReader } = await import('../../daemon/io/frame-reader.ts')
  const { dialHandshake } = await import('../../daemon/io/handshake.ts')
  const gw = net.byName('gwB')
  const ws = new WebSocket(`wss://127.0.0.1:${gw.port}/ingress`, {
    rejectUnauthorized: false,
    perMessageDeflate: false
  })
  const reader = new FrameReader(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  assert.ok(
    await dialHandshake(
      c,
      G,
      ws,
      reader,
      { id: Buffer.from(net.ingress.id, 'hex'), secretKey: net.ingress.identity.secretKey },
      'ingress',
      Buffer.from(gw.keys.id, 'hex'),
      gw.keys.identity.publicKey,
      2000
    )
  )
  const delivered: Buffer[] = []
  reader.setHandler(m => {
    const f = parseFrame(G, m.data)
    if (f?.kind === FRAME.DELIVER) {
      delivered.push(Buffer.from(f.body.subarray(8, 8 + G.userPayloadBytes)))
      ws.send(encodeFrame(G, FRAME.ACK, f.body.subarray(0, 8)))
    }
  })
  return { delivered, close: () => ws.close() }
}
