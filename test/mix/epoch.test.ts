/**
 * Groundwork for the directory issue: epoch arithmetic, relay descriptors signed with the identity
 * key (every forgery refused with its own code, junk never throws), and the per-epoch document
 * built identically from the same descriptors in any order, valid with a majority of authorities.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { buildEpochDocument, deterministicRng, documentBytes, epochAt, epochStart, loadCrypto, NETWORK_GEOMETRY, relayId, shuffle, signDescriptor, signDocument, verifyDescriptor, verifyDocument, type CryptoSuite, type MixingParams, type SignedDescriptor } from '../../mix/index.ts'

const MIXING: MixingParams = { strategy: 'batch', intervalMs: 100, minPool: 8, flushFraction: 0.7, minBatch: 4, maxDelayMs: 5000, loopRatePerSec: 0.5 }
const SCHEDULE = { genesisMs: 1_700_000_000_000, epochMs: 10_000 }

describe('epochs and relay descriptors', function () {
  let c: CryptoSuite
  before(async function () { c = await loadCrypto() })

  function relay (seed: string, role: 'gateway' | 'mix', layer: number, epochs: number[]): { sd: SignedDescriptor, secretKey: Uint8Array } {
    const rng = deterministicRng(c, seed)
    const id = c.signSeedKeypair(rng.bytes(32))
    const d = { version: 1 as const, id: relayId(c, id.publicKey), role, layer, address: `ws://${seed}.example:9000`, identityKey: Buffer.from(id.publicKey).toString('hex'), mixKeys: epochs.map(epoch => ({ epoch, key: rng.bytes(32).toString('hex') })) }
    return { sd: signDescriptor(c, d, id.secretKey), secretKey: id.secretKey }
  }

  it('counts epochs from genesis', function () {
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs - 1), 0)
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs + 9_999), 0)
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs + 10_000), 1)
    assert.equal(epochStart(SCHEDULE, 7), SCHEDULE.genesisMs + 70_000)
  })

  it('verifies a descriptor and refuses each forgery with its own code; junk never throws', function () {
    const { sd, secretKey } = relay('m1', 'mix', 1, [5, 6, 7, 8])
    assert.ok(verifyDescriptor(c, sd, 5).ok)
    const code = (x: unknown, e = 5): string => { const r = verifyDescriptor(c, x, e); return r.ok ? 'ok' : r.code }
    assert.equal(code({ ...sd, descriptor: { ...sd.descriptor, address: 'ws://evil.example:9000' } }), 'DESC_BAD_SIGNATURE')
    const other = c.signSeedKeypair(Buffer.alloc(32, 3))
    assert.equal(code(signDescriptor(c, { ...sd.descriptor, identityKey: Buffer.from(other.publicKey).toString('hex') }, other.secretKey)), 'DESC_ID_MISMATCH')
    assert.equal(code(sd, 7), 'DESC_NO_KEY_FOR_EPOCH', 'keys must reach two epochs ahead')
    assert.equal(code(signDescriptor(c, { ...sd.descriptor, role: 'gateway' }, secretKey)), 'DESC_MALFORMED')
    fc.assert(fc.property(fc.anything(), x => { verifyDescriptor(c, x, 0); verifyDescriptor(c, { descriptor: x, signature: 'ab'.repeat(64) }, 0); return true }), { numRuns: 2000 })
  })

  it('builds the same document from the same descriptors in any order, leaving out what does not verify', function () {
    const rs = [relay('g1', 'gateway', 0, [3, 4, 5]), relay('g2', 'gateway', 0, [3, 4, 5]), relay('a', 'mix', 1, [3, 4, 5]), relay('b', 'mix', 2, [3, 4, 5]), relay('c', 'mix', 3, [3, 4, 5])]
    const stale = relay('old', 'mix', 1, [1, 2, 3])
    const forged = { ...rs[2]!.sd, descriptor: { ...rs[2]!.sd.descriptor, address: 'ws://evil.example:1' } }
    const all: unknown[] = [...rs.map(r => r.sd), stale.sd, forged, { junk: true }]
    const input = { network: 't', epoch: 3, schedule: SCHEDULE, graceMs: 2000, geometry: NETWORK_GEOMETRY, mixing: MIXING, ingresses: [] }
    const first = documentBytes(buildEpochDocument(c, { ...input, descriptors: all }))
    const rng = deterministicRng(c, 'order')
    for (let i = 0; i < 10; i++) assert.deepEqual(documentBytes(buildEpochDocument(c, { ...input, descriptors: shuffle([...all], rng) })), first)
    const doc = buildEpochDocument(c, { ...input, descriptors: all })
    assert.equal(doc.relays.length, 5, 'the stale and the forged descriptor are left out')
    assert.ok(doc.relays.every(r => r.address !== 'ws://evil.example:1'))
    assert.equal(doc.relays.find(r => r.id === rs[2]!.sd.descriptor.id)!.mixKey, rs[2]!.sd.descriptor.mixKeys.find(k => k.epoch === 3)!.key)
    assert.equal(doc.validFromMs, epochStart(SCHEDULE, 3))
    assert.equal(doc.validUntilMs, epochStart(SCHEDULE, 4) + 2000)
    // Three authorities: two signatures on these bytes make it valid, one does not.
    const auth = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, i)))
    const signers = auth.map(a => a.publicKey)
    const now = epochStart(SCHEDULE, 3) + 1000
    const bytes = (n: number): Buffer => Buffer.from(JSON.stringify(signDocument(c, doc, auth.slice(0, n))))
    assert.ok(verifyDocument(c, bytes(2), { signers, geometry: NETWORK_GEOMETRY, nowMs: now }).ok)
    const one = verifyDocument(c, bytes(1), { signers, geometry: NETWORK_GEOMETRY, nowMs: now })
    assert.equal(one.ok ? 'ok' : one.code, 'DIR_BAD_SIGNATURES')
  })
})
