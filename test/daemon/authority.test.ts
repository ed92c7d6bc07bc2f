/**
 * Three directory authorities on loopback (groundwork for the directory issue): a descriptor
 * posted to one reaches all; each serves the same document signed by all three; with one down
 * the other two still make a majority; a document signed by one alone is refused, and two valid
 * but different documents for one epoch are both refused (equivocation).
 */
import assert from 'node:assert/strict'
import { Authority } from '../../daemon/index.ts'
import { chooseDocument, deterministicRng, epochAt, loadCrypto, NETWORK_GEOMETRY, relayId, signDescriptor, signDocument, type CryptoSuite, type MixingParams } from '../../mix/index.ts'
import { freePort } from '../../daemon/index.ts'
import { waitFor } from '../helpers/testnet.ts'

const MIXING: MixingParams = { strategy: 'batch', intervalMs: 100, minPool: 8, flushFraction: 0.7, minBatch: 4, maxDelayMs: 5000, loopRatePerSec: 0.5 }

describe('directory authorities', function () {
  this.timeout(30_000)
  let c: CryptoSuite
  let auths: Authority[]
  const schedule = { genesisMs: Date.now() - 5_000, epochMs: 60_000 }
  before(async function () {
    c = await loadCrypto()
    const keys = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 40 + i)))
    const ports = [await freePort(), await freePort(), await freePort()]
    auths = keys.map((k, i) => new Authority({
      crypto: c, signing: k, network: 'auth-test', schedule, graceMs: 5000, geometry: NETWORK_GEOMETRY, mixing: MIXING, ingresses: [], host: '127.0.0.1', port: ports[i]!,
      peers: keys.flatMap((p, j) => j === i ? [] : [{ url: `http://127.0.0.1:${ports[j]!}`, publicKey: Buffer.from(p.publicKey).toString('hex') }])
    }))
    for (const a of auths) await a.start()
  })
  after(async function () { for (const a of auths) await a.stop() })

  const epoch = (): number => epochAt(schedule, Date.now())
  const signers = (): Uint8Array[] => auths.map(a => Buffer.from(a.signer, 'hex'))

  function descriptor (seed: string, role: 'gateway' | 'mix', layer: number): unknown {
    const rng = deterministicRng(c, seed)
    const id = c.signSeedKeypair(rng.bytes(32))
    const e = epoch()
    return signDescriptor(c, { version: 1, id: relayId(c, id.publicKey), role, layer, address: `ws://${seed}.example:9000`, identityKey: Buffer.from(id.publicKey).toString('hex'), mixKeys: [0, 1, 2, 3].map(k => ({ epoch: e + k, key: rng.bytes(32).toString('hex') })) }, id.secretKey)
  }

  it('shares a descriptor posted to one authority; all three serve one document signed by all', async function () {
    const url = `http://127.0.0.1:${auths[0]!.port}`
    for (const [seed, role, layer] of [['g1', 'gateway', 0], ['m1', 'mix', 1], ['m2', 'mix', 2], ['m3', 'mix', 3]] as const) {
      const r = await fetch(`${url}/v1/descriptor`, { method: 'POST', body: JSON.stringify(descriptor(seed, role, layer)) })
      assert.equal(r.status, 200)
    }
    const bad = await fetch(`${url}/v1/descriptor`, { method: 'POST', body: JSON.stringify({ descriptor: { version: 1 }, signature: '00' }) })
    assert.equal(bad.status, 400)
    await waitFor(() => auths.every(a => a.descriptors === 4), 5000, 'descriptors shared')
    const served = await Promise.all(auths.map(async a => Buffer.from(await (await fetch(`http://127.0.0.1:${a.port}/v1/document/${epoch()}`)).arrayBuffer())))
    for (const b of served) assert.equal((JSON.parse(b.toString()) as { signatures: unknown[] }).signatures.length, 3)
    const chosen = chooseDocument(c, served, { signers: signers(), geometry: NETWORK_GEOMETRY, nowMs: Date.now(), epoch: epoch() })
    assert.ok(chosen.ok)
    assert.equal(chosen.value.relays.length, 4)
  })

  it('with one authority down the other two still make a majority', async function () {
    await auths[2]!.stop()
    const b = Buffer.from(await (await fetch(`http://127.0.0.1:${auths[0]!.port}/v1/document/${epoch()}`)).arrayBuffer())
    const doc = JSON.parse(b.toString()) as { signatures: unknown[] }
    assert.equal(doc.signatures.length, 2)
    assert.ok(chooseDocument(c, [b], { signers: signers(), geometry: NETWORK_GEOMETRY, nowMs: Date.now(), epoch: epoch() }).ok)
  })

  it('refuses a document signed by one authority, and two valid documents that differ (equivocation)', function () {
    const keys = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 40 + i)))
    const a = auths[0]!.build(epoch())
    const b = { ...a, relays: a.relays.slice(1) }
    const one = chooseDocument(c, [Buffer.from(JSON.stringify(signDocument(c, a, keys.slice(0, 1))))], { signers: signers(), geometry: NETWORK_GEOMETRY, nowMs: Date.now(), epoch: epoch() })
    assert.equal(one.ok ? 'ok' : one.code, 'DIR_NONE_VALID')
    // Authority 2 signs both versions: each has a majority on its own, so both are refused.
    const both = chooseDocument(c, [signDocument(c, a, keys.slice(0, 2)), signDocument(c, b, keys.slice(1, 3))].map(d => Buffer.from(JSON.stringify(d))), { signers: signers(), geometry: NETWORK_GEOMETRY, nowMs: Date.now(), epoch: epoch() })
    assert.equal(both.ok ? 'ok' : both.code, 'DIR_EQUIVOCATION')
  })
})
