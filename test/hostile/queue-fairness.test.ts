/**
 * The shared unwrap queue under a flood. The threat: two client connections sending well-versioned
 * garbage (every packet costs the worker an X25519 before its MAC fails) take the whole queue, and
 * legitimate packets are dropped queue_full beside them. Here the flood runs in its own process
 * from 127.0.0.3 against gwA (one unwrap worker); a legitimate client on 127.0.0.2 sends packets
 * over the whole path to the ingress, each only once gwA has unwrapped more of the flood's garbage,
 * so that every one of them meets the flood. And a relay link kept saturated is never taken for a
 * stalled one by the frame deadline.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { Listener } from '../../daemon/relay/listener/server.ts'
import { type CryptoSuite, FRAME, loadCrypto, packetFrame, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import { type Flood, linkFrom, maskedFrame, startFlood } from '../helpers/hostile.ts'
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

/** A garbage packet that passes every cheap check: right length, version 0x0000; its MAC fails after the X25519. */
function garbagePacket(c: CryptoSuite): Buffer {
  const p = randomBytes(c, G.packetBytes)
  p[0] = 0
  p[1] = 0
  return p
}

describe('hostile: fair unwrap queue', function () {
  this.timeout(90_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  let flood: Flood | undefined
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
    net = await createTestnet(c, { config: { limits: { workers: 1, handshakeTimeoutMs: 3000, pingIntervalMs: 1000 } } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'links up')
  })
  afterEach(async function () {
    await flood?.stop()
    flood = undefined
  })
  after(async function () {
    await net?.stop()
  })

  it('a garbage flood from two connections leaves a legitimate client at least 95% of its packets', async function () {
    const N = 40
    const gwA = net.byName('gwA').relay!
    const ing = await ingressConn(c, net, net.byName('gwB'))
    const mac = async (): Promise<number> => await metric(gwA, 'sealmix_packets_dropped_total', { reason: 'mac' })
    flood = await startFlood({
      mode: 'garbage',
      port: net.byName('gwA').port,
      localAddress: '127.0.0.3',
      count: 2,
      frame: packetFrame(G, garbagePacket(c))
    })
    await waitFor(async () => (await mac()) >= 2000, 30_000, 'the flood being unwrapped')
    const legit = await clientConn(net.byName('gwA').port, { localAddress: '127.0.0.2' })
    const sent = new Set<string>()
    const macAtStart = await mac()
    for (let i = 0; i < N; i++) {
      // Each packet goes only after the worker has unwrapped 200 more of the flood's: it meets the flood, whatever the machine's speed.
      const m0 = await mac()
      await waitFor(async () => (await mac()) >= m0 + 200, 30_000, 'more of the flood unwrapped')
      const payload = randomBytes(c, G.userPayloadBytes)
      sent.add(payload.subarray(0, 16).toString('hex'))
      legit.send(FRAME.PACKET, net.packetToIngress(sphinx, payload, rng))
    }
    const got = (): number => ing.delivered.filter(d => sent.has(d.subarray(0, 16).toString('hex'))).length
    const macAtEnd = await mac()
    await waitFor(() => got() >= Math.ceil(0.95 * N), 30_000, `95% of ${N} delivered (so far ${got()})`)
    assert.ok(macAtEnd - macAtStart >= 200 * N, 'the flood kept the worker busy throughout')
    assert.equal(flood.stats.closes, 0, 'the flooding connections were slowed, not closed')
    legit.close()
    ing.close()
  })

  it('never closes a relay link for being busy: a saturated link completes frames, so the frame deadline leaves it alone', async function () {
    const me = c.signSeedKeypair(randomBytes(c, 32))
    const myId = randomBytes(c, 32)
    const peer = c.signSeedKeypair(randomBytes(c, 32))
    const peerId = randomBytes(c, 32).toString('hex')
    let received = 0
    const opened = { relay: 0, client: 0, ingress: 0 }
    const closed = { relay: 0, client: 0, ingress: 0 }
    const l = new Listener({
      crypto: c,
      geometry: G,
      identity: { id: myId, secretKey: me.secretKey },
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxConnectionsPerIp: 10,
      reservedPeerSlots: 1,
      maxBufferedBytes: 1 << 22,
      handshakeTimeoutMs: 2000,
      pingIntervalMs: 60_000,
      frameDeadlineMs: 300,
      kinds: new Set(['relay', 'client']),
      keyOf: (_k, x) => (x === peerId ? peer.publicKey : undefined),
      onOpen: k => {
        opened[k.kind]++
      },
      onClose: k => {
        closed[k.kind]++
      },
      onMessage: () => {
        received++
      }
    })
    const port = await l.start()
    const link = await linkFrom(
      c,
      port,
      'relay',
      { id: peerId, secretKey: peer.secretKey },
      { id: myId.toString('hex'), publicKey: me.publicKey },
      '127.0.0.1'
    )
    assert.ok(link.ok)
    // The link's bytes go straight to its socket in writes that end mid-frame, as a busy sender's
    // do (the relay reads whatever has arrived: a write that ends on a frame boundary would let it
    // read up to one between checks). ws's own sender is not used from here on.
    const frames = Buffer.concat(
      Array.from({ length: 64 }, () => maskedFrame(packetFrame(G, randomBytes(c, G.packetBytes))))
    )
    const sock = (link.ws as unknown as { _socket: Socket })._socket
    let pumping = true
    let at = 0
    const pump = (): void => {
      while (pumping && !sock.destroyed) {
        const piece = frames.subarray(at, Math.min(frames.length, at + 50_000))
        at = (at + piece.length) % frames.length
        if (!sock.write(piece)) {
          sock.once('drain', pump)
          return
        }
      }
    }
    pump()
    try {
      // Sentinels instead of a sleep: three slowloris clients in turn, each starting a frame and
      // never finishing it. Each one closed by the frame deadline shows the deadline checked every
      // connection at least twice more, 300 ms apart, while the link was saturated.
      for (let i = 1; i <= 3; i++) {
        const sl = await clientConn(port)
        await waitFor(() => opened.client === i, 5000, `slowloris ${i} open`)
        const gone = new Promise<void>(resolve => sl.ws.once('close', () => resolve()))
        ;(sl.ws as unknown as { _socket: Socket })._socket.write(
          maskedFrame(Buffer.alloc(G.packetBytes + 1)).subarray(0, 100)
        )
        await gone
        await waitFor(() => closed.client === i, 5000, `slowloris ${i} closed by the deadline`)
      }
      assert.equal(closed.relay, 0, `the saturated link stayed up (${received} frames received)`)
      assert.ok(received > 1000, `it was busy: ${received} frames`)
    } finally {
      pumping = false
      link.ws.terminate()
      await l.close()
    }
  })
})
