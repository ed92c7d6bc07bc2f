/**
 * Connection admission under abuse. The threat: one address holds every connection slot, the ones
 * kept for relays included, with stalled sockets (raw TCP, upgrades that never say HELLO, headers
 * that never end), so new clients and relay links get 503 and nothing is logged. Here a flood of
 * 300 such sockets from 127.0.0.3, kept up by reconnecting, runs in its own process against a
 * gateway with 64 slots; the legitimate side dials from 127.0.0.2 (and the ingress from 127.0.0.1).
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { addressKey } from '../../daemon/io/address.ts'
import { Listener } from '../../daemon/relay/listener/server.ts'
import { RelayMetrics } from '../../daemon/relay/metrics.ts'
import { type CryptoSuite, encodeFrame, encodeHello, FRAME, frameBytes, loadCrypto } from '../../mix/index.ts'
import { type Flood, linkFrom, maskedFrame, rawUpgrade, startFlood } from '../helpers/hostile.ts'
import { LOG_LINES } from '../helpers/log-capture.ts'
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

async function value(m: RelayMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const v = (await m.registry.getSingleMetric(name)?.get())?.values.find(x =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val)
  )
  return v?.value ?? 0
}

const within = async <T>(ms: number, what: string, p: Promise<T>): Promise<T> => {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
      })
    ])
  } finally {
    clearTimeout(t)
  }
}

describe('hostile: connection admission', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let net: Testnet
  let flood: Flood | undefined
  before(async function () {
    c = await loadCrypto('sodium-native')
    // Pings every 10 s: a socket the relay gives up on must go at once, not at the next missed pong.
    net = await createTestnet(c, {
      config: {
        limits: {
          workers: 1,
          handshakeTimeoutMs: 3000,
          pingIntervalMs: 10_000,
          maxConnections: 64,
          reservedPeerSlots: 8
        }
      }
    })
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

  it('counts an IPv4 address, and an IPv6 /64, as one', function () {
    assert.equal(addressKey('127.0.0.3'), '127.0.0.3')
    assert.equal(addressKey('::ffff:127.0.0.3'), '127.0.0.3')
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'))
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'))
    assert.equal(addressKey('fe80::1%eth0'), addressKey('fe80::2'))
  })

  it('one address with 300 stalled sockets cannot keep a client, a relay or the ingress out (each in under 2 s), and every refusal is counted and logged', async function () {
    const gw = net.byName('gwB')
    const r = gw.relay!
    const mix3 = net.byName('mix3')
    const logFrom = LOG_LINES.length
    flood = await startFlood({ mode: 'slots', port: gw.port, localAddress: '127.0.0.3', count: 300, reopenMs: 500 })
    // Every one of the 300 has been tried, and the flooding address gets nothing more through.
    await waitFor(() => flood!.stats.connects >= 300, 20_000, "the flood's sockets")
    await waitFor(
      async () => {
        const p = await rawUpgrade(gw.port, '/client', '127.0.0.3').catch(() => null)
        p?.socket.destroy()
        return p !== null && p.status !== 101
      },
      20_000,
      'the flood in force'
    )

    let t0 = Date.now()
    const cl = await within(2000, 'client connect', clientConn(gw.port, { localAddress: '127.0.0.2' }))
    cl.send(FRAME.PULL, randomBytes(c, 32))
    await waitFor(() => cl.frames.length >= 16, 2000 - (Date.now() - t0), "the client's pull answered within 2 s")
    t0 = Date.now()
    const link = await within(
      2000,
      'relay link',
      linkFrom(
        c,
        gw.port,
        'relay',
        { id: mix3.keys.id, secretKey: mix3.keys.identity.secretKey },
        { id: gw.keys.id, publicKey: gw.keys.identity.publicKey },
        '127.0.0.2'
      )
    )
    assert.ok(link.ok, `the relay handshake completed (in ${Date.now() - t0} ms)`)
    const ing = await within(2000, 'ingress link', ingressConn(c, net, gw))

    // The flooding address holds at most its share of unauthenticated sockets, and the held ones
    // go at the handshake deadline (3 s here), terminated, without waiting for a close handshake.
    assert.ok((await metric(r, 'sealmix_connections_unauthenticated')) <= 16, 'the unauthenticated pool is bounded')
    await waitFor(
      async () =>
        (await metric(r, 'sealmix_connections_closed_total', { link: 'unknown', reason: 'handshake_timeout' })) +
          (await metric(r, 'sealmix_connections_closed_total', { link: 'peer', reason: 'handshake_timeout' })) >=
        1,
      10_000,
      'stalled sockets closed at the deadline'
    )
    // Counted once a socket that said what it is (client or peer) reaches the deadline; the first
    // ones to close may be sockets that never did (link "unknown"), so this is waited for too.
    await waitFor(
      async () =>
        (await metric(r, 'sealmix_handshake_failures_total', { link: 'client' })) +
          (await metric(r, 'sealmix_handshake_failures_total', { link: 'peer' })) >=
        1,
      10_000,
      'a handshake failure counted'
    )
    assert.ok(
      (await metric(r, 'sealmix_connections_refused_total', { reason: 'address_unauth' })) >= 300,
      'the refusals are counted'
    )
    const lines = LOG_LINES.slice(logFrom).filter(
      l => l.includes('connections refused') || l.includes('connection closed')
    )
    assert.ok(
      lines.some(l => l.includes('"reason":"address_unauth"')),
      'the refusals are logged'
    )
    assert.ok(lines.length < 20, `rate-limited: ${lines.length} lines`)
    for (const l of lines) assert.ok(!/127\.0\.0\.|::1|::ffff:/.test(l), `no address in ${l}`)

    await flood.stop()
    flood = undefined
    await waitFor(
      async () => (await metric(r, 'sealmix_connections_unauthenticated')) === 0,
      3000 + 2000,
      "the flood's sockets gone within the deadline"
    )
    cl.close()
    link.ws.close()
    ing.close()
  })

  it('many addresses filling the unauthenticated pool: the oldest stalled socket makes room for a newcomer', async function () {
    const metrics = new RelayMetrics('gateway')
    const l = new Listener({
      crypto: c,
      geometry: G,
      identity: { id: randomBytes(c, 32), secretKey: c.signSeedKeypair(randomBytes(c, 32)).secretKey },
      host: '127.0.0.1',
      port: 0,
      maxConnections: 64,
      maxConnectionsPerIp: 16,
      reservedPeerSlots: 8,
      maxUnauthenticated: 4,
      maxBufferedBytes: 1 << 20,
      handshakeTimeoutMs: 30_000,
      pingIntervalMs: 60_000,
      kinds: new Set(['client']),
      keyOf: () => undefined,
      onOpen: () => {},
      onClose: () => {},
      onMessage: () => {},
      metrics
    })
    const port = await l.start()
    const open = async (i: number): Promise<{ s: Socket; closed: () => boolean }> => {
      const s = connect({ host: '127.0.0.1', port, localAddress: `127.0.8.${i}` })
      let gone = false
      s.on('error', () => {})
      s.on('close', () => {
        gone = true
      })
      await new Promise<void>(resolve => s.once('connect', () => resolve()))
      return { s, closed: () => gone }
    }
    try {
      // Four silent sockets from four addresses fill the pool (the handshake deadline is 30 s here).
      const held: Array<{ s: Socket; closed: () => boolean }> = []
      for (let i = 1; i <= 4; i++) held.push(await open(i))
      await waitFor(async () => (await value(metrics, 'sealmix_connections_unauthenticated')) === 4, 5000, 'four held')
      // A fifth is refused while the oldest is younger than a second, then gets in by evicting it.
      const evicted = async (): Promise<number> =>
        await value(metrics, 'sealmix_connections_closed_total', { link: 'unknown', reason: 'evicted' })
      const tries: Array<{ s: Socket; closed: () => boolean }> = []
      await waitFor(
        async () => {
          const t = await open(5)
          tries.push(t)
          await waitFor(async () => t.closed() || (await evicted()) > 0, 5000, 'the newcomer refused or admitted')
          return (await evicted()) > 0
        },
        10_000,
        'a newcomer admitted'
      )
      const fifth = tries[tries.length - 1]!
      assert.ok(!held[3]!.closed() && !fifth.closed(), 'the others and the newcomer are held')
      assert.equal(await evicted(), 1)
      assert.ok(
        tries.length === 1 ||
          (await value(metrics, 'sealmix_connections_refused_total', { reason: 'unauthenticated' })) >= 1,
        'refused while the oldest was young'
      )
      await waitFor(() => held[0]!.closed(), 2000, 'the oldest, evicted, closed')
      for (const h of [...held, ...tries]) h.s.destroy()
    } finally {
      await l.close()
    }
  })

  it('cuts off a relay that fails its handshake at once, even if it never answers the close frame', async function () {
    const gw = net.byName('gwA')
    const s = await rawUpgrade(gw.port, '/relay', '127.0.0.4')
    assert.equal(s.status, 101)
    let gone = false
    void s.closed.then(() => {
      gone = true
    })
    // A HELLO naming a relay the document does not list; then this side stays silent.
    s.socket.write(
      maskedFrame(
        encodeFrame(G, FRAME.HELLO, encodeHello({ role: 'relay', id: randomBytes(c, 32), nonce: randomBytes(c, 32) }))
      )
    )
    await waitFor(() => gone, 1000, 'the socket closed by the relay')
    await waitFor(
      async () =>
        (await metric(gw.relay!, 'sealmix_connections_closed_total', { link: 'peer', reason: 'handshake_failed' })) >=
        1,
      2000,
      'counted'
    )
  })

  it('counts and logs an authenticated link closed with 1009, and keeps at most 4 links per relay id', async function () {
    const gw = net.byName('gwA')
    const r = gw.relay!
    const mix3 = net.byName('mix3')
    const me = { id: mix3.keys.id, secretKey: mix3.keys.identity.secretKey }
    const peer = { id: gw.keys.id, publicKey: gw.keys.identity.publicKey }
    const logFrom = LOG_LINES.length
    const big = await linkFrom(c, gw.port, 'relay', me, peer, '127.0.0.5')
    assert.ok(big.ok)
    const code = new Promise<number>(resolve => big.ws.once('close', (k: number) => resolve(k)))
    big.ws.send(Buffer.alloc(frameBytes(G) + 1))
    assert.equal(await code, 1009)
    await waitFor(
      async () => (await metric(r, 'sealmix_connections_closed_total', { link: 'peer', reason: 'too_large' })) >= 1,
      5000,
      'the 1009 close counted'
    )
    assert.ok(
      LOG_LINES.slice(logFrom).some(l => l.includes('connection closed') && l.includes('"reason":"too_large"')),
      'and logged'
    )

    // mix3's own link plus 6 more with its identity: the oldest go, 4 stay.
    const links = []
    for (let i = 0; i < 6; i++) {
      const l = await linkFrom(c, gw.port, 'relay', me, peer, '127.0.0.5')
      assert.ok(l.ok)
      links.push(l)
    }
    await waitFor(
      async () => (await metric(r, 'sealmix_connections_closed_total', { link: 'peer', reason: 'replaced' })) >= 3,
      5000,
      'older links replaced'
    )
    assert.ok(
      links.slice(-4).every(l => l.ws.readyState === l.ws.OPEN),
      'the newest 4 stay'
    )
    for (const l of links) l.ws.close()
    // mix3's real link was among the replaced ones: it dials again.
    await waitFor(() => net.linksUp(), 15_000, 'links up again')
  })
})
