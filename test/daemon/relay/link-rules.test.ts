/**
 * The link rules of docs/PROTOCOL.md §17 and §4 as a real relay applies them on loopback, byte by
 * byte from the dialer's side: the listener's HELLO (role byte 1 on /ingress too) and AUTH come as
 * two frames and nothing follows the dialer's AUTH; any relay the document lists may link,
 * whatever its layer, and its packets are taken; a client HELLO's id and nonce are ignored and
 * answered with nothing; a first message other than a client HELLO closes with 1008; a node_delay
 * above the document's maxDelayMs is dropped as malformed.
 */
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import {
  type CryptoSuite,
  encodeFrame,
  encodeHello,
  FRAME,
  type Hello,
  type LinkRole,
  loadCrypto,
  type PathHop,
  parseFrame,
  parseHello,
  type Rng,
  Sphinx,
  signLink,
  systemRng,
  verifyLink
} from '../../../mix/index.ts'
import { createTestnet, G, metric, type Node, randomBytes, type Testnet, waitFor } from '../../helpers/testnet.ts'

const MAX_DELAY_MS = 1000
/** How long "nothing comes" is watched for. */
const QUIET_MS = 400

interface Raw {
  ws: WebSocket
  frames: Buffer[]
  closed: Promise<number>
}

async function open(port: number, path: string): Promise<Raw> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false })
  ws.on('error', () => {})
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(d))
  const closed = new Promise<number>(resolve => ws.once('close', (code: number) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return { ws, frames, closed }
}

const quiet = async (): Promise<void> => await new Promise(resolve => setTimeout(resolve, QUIET_MS))

describe('link rules on a real relay (docs/PROTOCOL.md §17, §4)', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
    net = await createTestnet(c, { mixing: { maxDelayMs: MAX_DELAY_MS } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
  })
  after(async function () {
    await net?.stop()
  })

  /**
   * Dial `listener` on `path` as `role` with the given identity, frame by frame: HELLO, then what
   * the listener sends (checked), then AUTH. Returns the socket once the dialer's AUTH is out.
   */
  async function handshake(
    listener: Node,
    path: '/relay' | '/ingress',
    role: LinkRole,
    me: { id: Buffer; secretKey: Uint8Array }
  ): Promise<Raw> {
    const raw = await open(listener.port, path)
    const mine: Hello = { role, id: me.id, nonce: randomBytes(c, 32) }
    raw.ws.send(encodeFrame(G, FRAME.HELLO, encodeHello(mine)))
    await waitFor(() => raw.frames.length >= 2, 5000, "the listener's HELLO and AUTH")
    const [hello, auth] = raw.frames.map(f => parseFrame(G, f))
    assert.equal(hello?.kind, FRAME.HELLO, 'first frame: HELLO')
    assert.equal(hello.body[0], 1, 'HELLO version 1')
    assert.equal(hello.body[1], 1, `role byte 1 (relay) on ${path}`)
    const theirs = parseHello(hello.body)!
    assert.equal(theirs.id.toString('hex'), listener.keys.id)
    assert.equal(auth?.kind, FRAME.AUTH, 'second frame: AUTH, a frame of its own')
    assert.ok(
      verifyLink(c, 2, theirs, mine, auth.body, listener.keys.identity.publicKey),
      "the listener's AUTH (side 2) verifies"
    )
    raw.ws.send(encodeFrame(G, FRAME.AUTH, signLink(c, 1, mine, theirs, me.secretKey)))
    return raw
  }

  const identityOf = (n: Node): { id: Buffer; secretKey: Uint8Array } => ({
    id: Buffer.from(n.keys.id, 'hex'),
    secretKey: n.keys.identity.secretKey
  })

  /** A one-hop packet to `at` whose recipient is all zero (cover, discarded there), with this node_delay. */
  const coverPacket = (at: string, delayMs: number): Buffer =>
    sphinx.createPacket(
      [
        net.hop(at, [
          { type: 'node_delay', delayMs },
          { type: 'recipient', id: Buffer.alloc(32) }
        ] as PathHop['commands'])
      ],
      randomBytes(c, G.userPayloadBytes),
      rng
    )

  it("/ingress: HELLO (role byte 1) and AUTH as two frames, and nothing after the ingress's AUTH", async function () {
    const gwB = net.byName('gwB')
    const ingress = { id: Buffer.from(net.ingress.id, 'hex'), secretKey: net.ingress.identity.secretKey }
    const raw = await handshake(gwB, '/ingress', 'ingress', ingress)
    await quiet()
    assert.equal(raw.frames.length, 2, "no confirmation follows the dialer's AUTH")
    assert.equal(raw.ws.readyState, WebSocket.OPEN)
    await waitFor(
      async () => (await metric(gwB.relay!, 'sealmix_connections', { link: 'ingress' })) >= 1,
      5000,
      'the ingress link counted open'
    )
    raw.ws.close()
  })

  it('/relay: a layer-2 mix may link to a gateway, and the gateway takes its packets', async function () {
    const gwA = net.byName('gwA')
    const raw = await handshake(gwA, '/relay', 'relay', identityOf(net.byName('mix2')))
    await quiet()
    assert.equal(raw.frames.length, 2, "no confirmation follows the dialer's AUTH")
    const before = await metric(gwA.relay!, 'sealmix_cover_received_total')
    raw.ws.send(encodeFrame(G, FRAME.PACKET, coverPacket('gwA', 0)))
    await waitFor(
      async () => (await metric(gwA.relay!, 'sealmix_cover_received_total')) === before + 1,
      5000,
      'the packet taken and unwrapped'
    )
    raw.ws.close()
  })

  it('/relay: an id the document does not list is refused with 1008, before the listener sends anything', async function () {
    const raw = await open(net.byName('mix1').port, '/relay')
    raw.ws.send(
      encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'relay', id: randomBytes(c, 32), nonce: randomBytes(c, 32) }))
    )
    assert.equal(await raw.closed, 1008)
    assert.equal(raw.frames.length, 0)
  })

  it('/client: a HELLO with a non-zero id and nonce is taken, answered with nothing, and the client served', async function () {
    const raw = await open(net.byName('gwA').port, '/client')
    raw.ws.send(
      encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'client', id: randomBytes(c, 32), nonce: randomBytes(c, 32) }))
    )
    await quiet()
    assert.equal(raw.frames.length, 0, 'a gateway sends nothing back to a client HELLO')
    assert.equal(raw.ws.readyState, WebSocket.OPEN)
    raw.ws.send(encodeFrame(G, FRAME.PULL, randomBytes(c, 32)))
    await waitFor(() => raw.frames.length >= 16, 5000, 'a PULL answered')
    assert.ok(raw.frames.every(f => parseFrame(G, f)?.kind === FRAME.MAILBOX))
    raw.ws.close()
  })

  it('/client: a PACKET, or a HELLO of another role, before the client HELLO closes the connection with 1008', async function () {
    const gwA = net.byName('gwA')
    const before = await metric(gwA.relay!, 'sealmix_handshake_failures_total', { link: 'client' })
    const first = await open(gwA.port, '/client')
    first.ws.send(encodeFrame(G, FRAME.PACKET, coverPacket('gwA', 0)))
    assert.equal(await first.closed, 1008)
    const second = await open(gwA.port, '/client')
    second.ws.send(
      encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'relay', id: Buffer.alloc(32), nonce: Buffer.alloc(32) }))
    )
    assert.equal(await second.closed, 1008)
    assert.equal(first.frames.length + second.frames.length, 0)
    await waitFor(
      async () => (await metric(gwA.relay!, 'sealmix_handshake_failures_total', { link: 'client' })) === before + 2,
      5000,
      'both counted'
    )
  })

  it(`drops a node_delay above the document's maxDelayMs (${MAX_DELAY_MS} ms) as malformed; the bound itself passes`, async function () {
    const gwA = net.byName('gwA')
    const raw = await open(gwA.port, '/client')
    raw.ws.send(
      encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) }))
    )
    const malformed = await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'malformed' })
    const cover = await metric(gwA.relay!, 'sealmix_cover_received_total')
    raw.ws.send(encodeFrame(G, FRAME.PACKET, coverPacket('gwA', 1500)))
    await waitFor(
      async () =>
        (await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'malformed' })) === malformed + 1,
      5000,
      'the 1500 ms delay dropped'
    )
    raw.ws.send(encodeFrame(G, FRAME.PACKET, coverPacket('gwA', MAX_DELAY_MS)))
    await waitFor(
      async () => (await metric(gwA.relay!, 'sealmix_cover_received_total')) === cover + 1,
      5000,
      'the delay at the bound taken'
    )
    assert.equal(await metric(gwA.relay!, 'sealmix_packets_dropped_total', { reason: 'malformed' }), malformed + 1)
    raw.ws.close()
  })
})
