/** Connection caps and the replay filter's fail-closed bound, on a live relay. */
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { type CryptoSuite, FRAME, loadCrypto, type PathHop, Sphinx, systemRng } from '../../mix/index.ts'
import {
  clientConn,
  createTestnet,
  G,
  metric,
  type Node,
  randomBytes,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'

async function tryConnect(port: number, localAddress: string, path = '/client'): Promise<number> {
  return await new Promise(resolve => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { localAddress })
    ws.once('open', () => {
      resolve(101)
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
    })
    ws.once('error', () => resolve(0))
  })
}

describe('limits', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let net: Testnet
  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c, {
      config: {
        limits: {
          workers: 1,
          handshakeTimeoutMs: 5000,
          pingIntervalMs: 1000,
          maxConnections: 8,
          maxConnectionsPerIp: 3,
          reservedPeerSlots: 3
        },
        replay: { capacity: 1000 }
      }
    })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'links up')
  })
  after(async function () {
    await net?.stop()
  })

  it('caps clients per address and keeps slots free for relays', async function () {
    const port = net.byName('gwA').port
    const a = await Promise.all([1, 2, 3].map(async () => await tryConnect(port, '127.77.2.1')))
    assert.deepEqual(a, [101, 101, 101])
    assert.equal(await tryConnect(port, '127.77.2.1'), 503, 'a 4th client from the same address is refused')
    // 8 connections in all, 3 kept for relays and ingresses: clients are refused once 5 are open (mix3's link counts too).
    const more = []
    for (let i = 2; i < 6; i++) more.push(await tryConnect(port, `127.77.2.${i}`))
    assert.ok(more.includes(503), `clients are refused before the reserved peer slots (${more.join(',')})`)
    assert.equal(
      await tryConnect(port, '127.77.3.1', '/relay'),
      101,
      'a relay path still gets through the reserved slots'
    )
    assert.equal(await tryConnect(port, '127.77.3.1', '/nope'), 404)
  })

  it('refuses packets once the replay filter is full (fail closed, counted replay_full)', async function () {
    this.timeout(120_000)
    const sphinx = new Sphinx(c)
    const rng = systemRng(c)
    const gwB: Node = net.byName('gwB')
    // gwB takes clients too; its filter holds 1000 tags (the configured minimum). Send 1020 one-hop packets.
    const cl = await clientConn(gwB.port, { localAddress: '127.77.4.1' })
    const hop = (commands: PathHop['commands']): PathHop => ({
      id: Buffer.from(gwB.keys.id, 'hex'),
      publicKey: gwB.keys.mix.publicKey,
      commands
    })
    for (let i = 0; i < 1020; i++) {
      cl.send(
        FRAME.PACKET,
        sphinx.createPacket(
          [
            hop([
              { type: 'node_delay', delayMs: 0 },
              { type: 'recipient', id: Buffer.alloc(32) }
            ])
          ],
          randomBytes(c, G.userPayloadBytes),
          rng
        )
      )
      if (i % 50 === 0) await new Promise(resolve => setTimeout(resolve, 5))
    }
    const r = gwB.relay!
    await waitFor(
      async () => (await metric(r, 'sealmix_packets_dropped_total', { reason: 'replay_full' })) >= 1,
      20_000,
      'replay_full drops'
    )
    await waitFor(
      async () =>
        (await metric(r, 'sealmix_cover_received_total')) +
          (await metric(r, 'sealmix_packets_dropped_total', { reason: 'replay_full' })) >=
        1020,
      20_000,
      'all packets accounted'
    )
    assert.ok((await metric(r, 'sealmix_cover_received_total')) <= 1000, 'no more than capacity accepted')
    assert.equal(await metric(r, 'sealmix_replay_filter_fill_ratio'), 1)
    cl.close()
  })
})
