/** Path selection: one relay per layer in order, uniform choice, the role rule on the last hop, exponential delays. */
import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  clientRates,
  deterministicRng,
  exitGatewayOf,
  exponential,
  hopsFor,
  loadCrypto,
  type NetworkDocument,
  type RelayDescriptor,
  routeVia,
  uniform01
} from '../../mix/index.ts'

function relay(i: number, role: 'gateway' | 'mix', layer: number): RelayDescriptor {
  const h = i.toString(16).padStart(2, '0').repeat(32)
  return { id: h, role, layer, address: `ws://127.0.0.1:${1000 + i}`, identityKey: h, mixKey: h }
}

describe('path selection', function () {
  let c: CryptoSuite
  const relays = [
    relay(1, 'gateway', 0),
    relay(2, 'gateway', 0),
    relay(3, 'mix', 1),
    relay(4, 'mix', 1),
    relay(5, 'mix', 2),
    relay(6, 'mix', 2),
    relay(7, 'mix', 3),
    relay(8, 'mix', 3)
  ]
  const doc = {
    mixing: {
      strategy: 'batch',
      intervalMs: 100,
      minPool: 0,
      flushFraction: 1,
      minBatch: 0,
      maxDelayMs: 0,
      loopRatePerSec: 0
    },
    relays,
    ingresses: [{ id: '99'.repeat(32), serverName: 's', identityKey: '', boxKey: '', gateways: [relays[1]!.id] }]
  } as unknown as NetworkDocument
  before(async function () {
    c = await loadCrypto()
  })

  it('routes first, one mix of each layer in order, then last; each mix is chosen uniformly', function () {
    const rng = deterministicRng(c, 'path')
    const counts = new Map<string, number>()
    for (let i = 0; i < 4000; i++) {
      const r = routeVia(doc, rng, relays[0]!.id, relays[1]!.id)
      assert.deepEqual(
        r.map(x => x.layer),
        [0, 1, 2, 3, 0]
      )
      assert.equal(r[0]!.id, relays[0]!.id)
      assert.equal(r[4]!.id, relays[1]!.id)
      counts.set(r[1]!.id, (counts.get(r[1]!.id) ?? 0) + 1)
    }
    for (const v of counts.values()) assert.ok(Math.abs(v - 2000) < 200, `layer-1 choice ${v} of 4000`)
    assert.equal(exitGatewayOf(doc, rng, '99'.repeat(32)), relays[1]!.id)
    assert.throws(() => routeVia(doc, rng, 'ff'.repeat(32), relays[1]!.id), /not in the network document/)
  })

  it('puts node_delay on every hop, and on the last hop of a SURB only recipient and surb_reply', function () {
    const rng = deterministicRng(c, 'hops')
    const route = routeVia(doc, rng, relays[0]!.id, relays[1]!.id)
    const fwd = hopsFor(route, rng, 50, [{ type: 'recipient', id: Buffer.alloc(32) }])
    assert.deepEqual(
      fwd.map(h => h.commands.map(x => x.type)),
      [['node_delay'], ['node_delay'], ['node_delay'], ['node_delay'], ['node_delay', 'recipient']]
    )
    const surb = hopsFor(route, rng, 50, [
      { type: 'recipient', id: Buffer.alloc(32) },
      { type: 'surb_reply', id: Buffer.alloc(16) }
    ])
    assert.deepEqual(
      surb[4]!.commands.map(x => x.type),
      ['recipient', 'surb_reply']
    )
    assert.deepEqual(
      hopsFor(route, rng, 0, []).map(h => h.commands[0]),
      Array(5).fill({ type: 'node_delay', delayMs: 0 })
    )
  })

  it('draws uniforms in (0, 1] and exponentials with the asked mean', function () {
    const rng = deterministicRng(c, 'exp')
    let sum = 0
    for (let i = 0; i < 20000; i++) {
      const u = uniform01(rng)
      assert.ok(u > 0 && u <= 1)
      sum += exponential(rng, 100)
    }
    assert.ok(Math.abs(sum / 20000 - 100) < 3, `mean ${sum / 20000}`)
    assert.equal(exponential(rng, 0), 0)
  })

  it('takes client rates from the document, with defaults', function () {
    assert.deepEqual(clientRates(doc), { clientRatePerSec: 2, clientLoopRatePerSec: 0.5, hopDelayMs: 0 })
    const d2 = { ...doc, mixing: { ...doc.mixing, strategy: 'poisson', clientRatePerSec: 9 } } as NetworkDocument
    assert.deepEqual(clientRates(d2), { clientRatePerSec: 9, clientLoopRatePerSec: 0.5, hopDelayMs: 50 })
  })
})
