/**
 * Bounded memory under abuse: a client that stops reading and a dead peer stay
 * within their caps while other links keep flowing; a dead peer is re-dialled no sooner than 5 s;
 * a connection that starts a frame and never finishes it is closed at the frame deadline.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { OutLink } from '../../daemon/io/link.ts'
import { Listener } from '../../daemon/relay/listener/server.ts'
import { type CryptoSuite, FRAME, loadCrypto, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import {
  clientConn,
  createTestnet,
  dropsOf,
  G,
  ingressConn,
  metric,
  randomBytes,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'

const CAP = 64 * 1024

describe('backpressure and dead peers', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
    net = await createTestnet(c, {
      config: { limits: { workers: 1, handshakeTimeoutMs: 2000, pingIntervalMs: 1000, maxBufferedBytes: CAP } }
    })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'links up')
  })
  after(async function () {
    await net?.stop()
  })

  const packet = (): Buffer => net.packetToIngress(sphinx, randomBytes(c, G.userPayloadBytes), rng)

  it('a client that stops reading hits its send-buffer cap (counted drops) while other traffic flows', async function () {
    const gwA = net.byName('gwA').relay!
    const slow = await clientConn(net.byName('gwA').port, { localAddress: '127.77.1.1' })
    ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
    const mailbox = randomBytes(c, 32)
    for (let i = 0; i < 400; i++) slow.send(FRAME.PULL, mailbox) // 400 x 16 frames of 2557 B = 16 MB asked for
    const ing = await ingressConn(c, net, net.byName('gwB'))
    const fast = await clientConn(net.byName('gwA').port, { localAddress: '127.77.1.2' })
    await waitFor(() => net.linksUp(), 15_000, 'links up before the other traffic')
    for (let i = 0; i < 20; i++) fast.send(FRAME.PACKET, packet())
    await waitFor(() => ing.delivered.length >= 20, 15_000, 'other traffic delivered').catch(async e => {
      // Say where the packets went: a busy machine can show here what an idle one never does.
      const state = `ingress link ${ing.ws.readyState === ing.ws.OPEN ? 'open' : 'closed'}, links ${net.linksUp() ? 'up' : 'not all up'}`
      throw new Error(`${e.message}: ${ing.delivered.length} of 20; ${state}; ${await dropsOf(net)}`)
    })
    // The cap is what turns the 16 MB asked for into counted drops. (The send-buffer gauge is not
    // checked here: sampled, it reads 0 once the kernel's socket buffers have taken what ws held,
    // so "at most the cap" could not fail.)
    await waitFor(
      async () => (await metric(gwA, 'sealmix_packets_dropped_total', { reason: 'queue_full' })) > 0,
      10_000,
      'queue_full drops'
    )
    slow.close()
    fast.close()
    ing.close()
  })

  it('a dead peer: packets for it are dropped and counted, nothing accumulates, and the link comes back', async function () {
    const mix2 = net.byName('mix2')
    await mix2.relay!.stop()
    mix2.relay = null
    const mix1 = net.byName('mix1').relay!
    await waitFor(() => mix1.linksUp.length === 0, 5000, 'mix1 sees mix2 down')
    const before = await metric(mix1, 'sealmix_packets_dropped_total', { reason: 'link_down' })
    const client = await clientConn(net.byName('gwA').port)
    for (let i = 0; i < 30; i++) client.send(FRAME.PACKET, packet())
    await waitFor(
      async () => (await metric(mix1, 'sealmix_packets_dropped_total', { reason: 'link_down' })) >= before + 30,
      10_000,
      'link_down drops'
    )
    assert.equal(await metric(mix1, 'sealmix_mix_pool_packets'), 0, 'nothing is held for the dead peer')
    assert.equal(await metric(mix1, 'sealmix_send_buffer_bytes', { link: 'peer' }), 0)
    await net.start(mix2)
    await waitFor(() => mix1.linksUp.length === 1, 10_000, 'link back')
    client.close()
  })

  it('re-dials a dead peer no sooner than 5 s after the last try', async function () {
    const attempts: number[] = []
    const srv = createServer(s => {
      attempts.push(Date.now())
      s.destroy()
    })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
    const port = (srv.address() as { port: number }).port
    const link = new OutLink({
      crypto: c,
      geometry: G,
      identity: { id: randomBytes(c, 32), secretKey: c.signSeedKeypair(randomBytes(c, 32)).secretKey },
      role: 'relay',
      peerId: '00'.repeat(32),
      peerKey: Buffer.alloc(32),
      address: `ws://127.0.0.1:${port}`,
      maxBufferedBytes: CAP,
      handshakeTimeoutMs: 1000,
      pingIntervalMs: 1000
    })
    link.start()
    await new Promise(resolve => setTimeout(resolve, 7500))
    await link.close()
    srv.close()
    assert.equal(attempts.length, 2, `attempts at ${attempts.map(t => t - attempts[0]!).join(', ')} ms`)
    assert.ok(attempts[1]! - attempts[0]! >= 5000, `retried after ${attempts[1]! - attempts[0]!} ms`)
  })

  it('closes a connection that starts a frame and does not finish it within the deadline', async function () {
    // A listener whose ping interval is far longer than its frame deadline, so only the deadline can close.
    const opened: string[] = []
    const l = new Listener({
      crypto: c,
      geometry: G,
      identity: { id: randomBytes(c, 32), secretKey: c.signSeedKeypair(randomBytes(c, 32)).secretKey },
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxConnectionsPerIp: 10,
      reservedPeerSlots: 1,
      maxBufferedBytes: CAP,
      handshakeTimeoutMs: 60_000,
      pingIntervalMs: 60_000,
      frameDeadlineMs: 1500,
      kinds: new Set(['client']),
      keyOf: () => undefined,
      onOpen: () => opened.push('open'),
      onClose: () => {},
      onMessage: () => {},
      onHandshakeFailed: () => {}
    })
    const port = await l.start()
    const cl = await clientConn(port)
    await waitFor(() => opened.length === 1, 5000, 'client open')
    const sock = (cl.ws as unknown as { _socket: { write: (b: Buffer) => void } })._socket
    // A masked binary frame header announcing 2557 bytes, then only 10 of them.
    sock.write(Buffer.concat([Buffer.from([0x82, 0xfe, 0x09, 0xfd, 1, 2, 3, 4]), Buffer.alloc(10)]))
    const t0 = Date.now()
    await new Promise<void>(resolve => cl.ws.once('close', () => resolve()))
    const waited = Date.now() - t0
    await l.close()
    assert.ok(waited >= 1500 && waited < 4000, `closed after ${waited} ms (deadline 1500 ms, checked every second)`)
  })

  it('does not close a connection that sends whole frames slowly', async function () {
    const l = new Listener({
      crypto: c,
      geometry: G,
      identity: { id: randomBytes(c, 32), secretKey: c.signSeedKeypair(randomBytes(c, 32)).secretKey },
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxConnectionsPerIp: 10,
      reservedPeerSlots: 1,
      maxBufferedBytes: CAP,
      handshakeTimeoutMs: 60_000,
      pingIntervalMs: 60_000,
      frameDeadlineMs: 500,
      kinds: new Set(['client']),
      keyOf: () => undefined,
      onOpen: () => {},
      onClose: () => {},
      onMessage: () => {},
      onHandshakeFailed: () => {}
    })
    const port = await l.start()
    const cl = await clientConn(port)
    for (let i = 0; i < 4; i++) {
      await new Promise(resolve => setTimeout(resolve, 600))
      cl.send(FRAME.PACKET, Buffer.alloc(G.packetBytes))
    }
    assert.equal(cl.ws.readyState, cl.ws.OPEN)
    cl.close()
    await l.close()
  })
})
