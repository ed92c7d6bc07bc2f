/**
 * A network on loopback (2 gateways, one mix per layer), real sockets, real LevelDB, worker
 * threads: packets reach the exit and its ingress; SURB replies reach a client mailbox; replays
 * are dropped at once and after a restart; bad frames are dropped and counted.
 */
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { encodeFrame, FRAME, loadCrypto, parseFrame, Sphinx, systemRng, type CryptoSuite, type PathHop, type Rng } from '../../mix/index.ts'
import { clientConn, createTestnet, G, ingressConn, metric, randomBytes, waitFor, type Node, type Testnet } from '../helpers/testnet.ts'

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
    await waitFor(() => net.nodes.every(n => n.relay!.linksUp.length === (n.name === 'mix3' ? 2 : 1)), 15_000, 'relay links up')
  })
  after(async function () { await net?.stop() })

  const hop = (n: Node, commands: PathHop['commands']): PathHop => ({ id: Buffer.from(n.keys.id, 'hex'), publicKey: n.keys.mix.publicKey, commands })
  const delay: PathHop['commands'] = [{ type: 'node_delay', delayMs: 0 }]
  const forwardTo = (recipient: Buffer): PathHop[] => [
    hop(net.byName('gwA'), delay), hop(net.byName('mix1'), delay), hop(net.byName('mix2'), delay), hop(net.byName('mix3'), delay),
    hop(net.byName('gwB'), [{ type: 'node_delay', delayMs: 0 }, { type: 'recipient', id: recipient }])
  ]

  it('carries packets from a client through all layers to the exit\'s ingress', async function () {
    const ing = await ingressConn(c, net, net.byName('gwB'))
    const client = await clientConn(net.byName('gwA').port)
    const payloads = Array.from({ length: 20 }, () => randomBytes(c, G.userPayloadBytes))
    for (const p of payloads) client.send(FRAME.PACKET, sphinx.createPacket(forwardTo(Buffer.from(net.ingress.id, 'hex')), p, rng))
    await waitFor(() => ing.delivered.length >= 20, 10_000, 'deliveries')
    assert.deepEqual(new Set(ing.delivered.map(b => b.toString('hex'))), new Set(payloads.map(b => b.toString('hex'))))
    await waitFor(async () => await metric(net.byName('gwB').relay!, 'sealmix_delivered_total', { link: 'ingress' }) >= 20, 5000, 'acks')
    client.close(); ing.close()
  })

  it('brings a SURB reply back to the client\'s mailbox; a pull returns a constant number of frames', async function () {
    const mailboxId = randomBytes(c, 32)
    const surbId = randomBytes(c, 16)
    const replyPath: PathHop[] = [
      hop(net.byName('gwB'), delay), hop(net.byName('mix1'), delay), hop(net.byName('mix2'), delay), hop(net.byName('mix3'), delay),
      hop(net.byName('gwA'), [{ type: 'recipient', id: mailboxId }, { type: 'surb_reply', id: surbId }])
    ]
    const { surb, token } = sphinx.createSurb(replyPath, rng)
    const reply = randomBytes(c, G.userPayloadBytes)
    const { packet } = sphinx.packetFromSurb(surb, reply)
    const ing = await ingressConn(c, net, net.byName('gwB'))
    ing.ws.send(encodeFrame(G, FRAME.PACKET, packet))
    const gwA = net.byName('gwA').relay!
    await waitFor(async () => await metric(gwA, 'sealmix_mailbox_packets') >= 1, 10_000, 'mailbox')
    const client = await clientConn(net.byName('gwA').port)
    client.send(FRAME.PULL, mailboxId)
    await waitFor(() => client.frames.length >= 16, 5000, 'pull answer')
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(client.frames.length, 16, 'exactly pullBatch frames')
    assert.ok(client.frames.every(f => f.length === G.packetBytes + 1), 'every frame has the one size')
    const opened = client.frames.map(f => parseFrame(G, f)!).filter(f => f.kind === FRAME.MAILBOX).map(f => ({ seq: f.body.subarray(0, 8), surbId: f.body.subarray(8, 24), body: f.body.subarray(24, 24 + G.bodyBytes) }))
    const mine = opened.filter(o => o.surbId.equals(surbId))
    assert.equal(mine.length, 1)
    assert.deepEqual(sphinx.decryptSurbPayload(mine[0]!.body, token), reply)
    client.send(FRAME.ACK, mine[0]!.seq)
    await waitFor(async () => await metric(gwA, 'sealmix_delivered_total', { link: 'client' }) >= 1, 5000, 'mailbox ack')
    client.close(); ing.close()
  })

  it('drops a replayed packet at once, and again after the relay restarts', async function () {
    const gwA = net.byName('gwA')
    const client = await clientConn(gwA.port)
    const pkt = sphinx.createPacket(forwardTo(Buffer.from(net.ingress.id, 'hex')), randomBytes(c, G.userPayloadBytes), rng)
    const before = await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'replay' })
    client.send(FRAME.PACKET, pkt)
    client.send(FRAME.PACKET, pkt)
    await waitFor(async () => await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'replay' }) === before + 1, 5000, 'replay drop')
    client.close()
    await new Promise(resolve => setTimeout(resolve, 100)) // let the round commit the tag
    await gwA.relay!.stop()
    const restarted = await net.start(gwA)
    const again = await clientConn(gwA.port)
    again.send(FRAME.PACKET, pkt)
    await waitFor(async () => await metric(restarted, 'sealmix_packets_dropped_total', { reason: 'replay' }) === 1, 5000, 'replay drop after restart')
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
    const junk = Buffer.alloc(G.packetBytes + 1); junk[0] = FRAME.PACKET
    client.ws.send(junk)
    await waitFor(async () => await metric(gwA, 'sealmix_packets_dropped_total', { reason: 'malformed' }) >= before + 4, 5000, 'malformed drops')
    assert.equal(client.ws.readyState, WebSocket.OPEN, 'the connection stays up')
    client.close()
  })

  it('closes an oversized frame with 1009 and never negotiates permessage-deflate', async function () {
    const client = await clientConn(net.byName('gwA').port, { perMessageDeflate: true })
    assert.equal(client.response.headers['sec-websocket-extensions'], undefined)
    const code = await new Promise<number>(resolve => {
      client.ws.once('close', (code) => resolve(code))
      client.ws.send(Buffer.alloc(G.packetBytes + 2))
    })
    assert.equal(code, 1009)
  })
})
