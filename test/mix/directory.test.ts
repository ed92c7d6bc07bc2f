import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  canonicalJson,
  deterministicRng,
  loadCrypto,
  makeGeometry,
  NETWORK_GEOMETRY,
  type Rng,
  verifyDocument
} from '../../mix/index.ts'
import { signedBytes, testDocument, testRelay } from '../helpers/network.ts'

describe('network document', function () {
  let c: CryptoSuite
  let rng: Rng
  const now = Date.UTC(2026, 10, 27)
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'directory')
  })
  const relays = (): ReturnType<typeof testRelay>[] => [
    testRelay(c, rng, 'gateway', 0, 'ws://127.0.0.1:1'),
    testRelay(c, rng, 'mix', 1, 'ws://127.0.0.1:2')
  ]
  const code = (r: ReturnType<typeof verifyDocument>): string =>
    r.ok ? 'ok' : `${r.code}${r.detail !== undefined ? '/' + r.detail : ''}`

  it('canonical JSON sorts keys at every level and drops undefined', function () {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}'
    )
  })

  it('verifies with a majority of trusted signers, and refuses half or fewer', function () {
    const signers = [
      c.signSeedKeypair(rng.bytes(32)),
      c.signSeedKeypair(rng.bytes(32)),
      c.signSeedKeypair(rng.bytes(32))
    ]
    const d = testDocument(c, relays(), {}, now)
    const opts = { signers: signers.map(s => s.publicKey), geometry: NETWORK_GEOMETRY, nowMs: now }
    assert.equal(code(verifyDocument(c, signedBytes(c, d, signers.slice(0, 2)), opts)), 'ok')
    assert.equal(code(verifyDocument(c, signedBytes(c, d, signers.slice(0, 1)), opts)), 'DIR_BAD_SIGNATURES')
    const outsider = c.signSeedKeypair(rng.bytes(32))
    assert.equal(code(verifyDocument(c, signedBytes(c, d, [signers[0]!, outsider]), opts)), 'DIR_BAD_SIGNATURES')
    const sameTwice = JSON.parse(signedBytes(c, d, [signers[0]!]).toString())
    sameTwice.signatures.push(sameTwice.signatures[0])
    assert.equal(
      code(verifyDocument(c, Buffer.from(JSON.stringify(sameTwice)), opts)),
      'DIR_BAD_SIGNATURES',
      'one signer counted once'
    )
  })

  it('refuses a document changed after signing', function () {
    const s = c.signSeedKeypair(rng.bytes(32))
    const signed = JSON.parse(signedBytes(c, testDocument(c, relays(), {}, now), [s]).toString())
    signed.document.relays[1].address = 'ws://10.0.0.1:9'
    assert.equal(
      code(
        verifyDocument(c, Buffer.from(JSON.stringify(signed)), {
          signers: [s.publicKey],
          geometry: NETWORK_GEOMETRY,
          nowMs: now
        })
      ),
      'DIR_BAD_SIGNATURES'
    )
  })

  it('refuses another geometry, a stale or future document, and inconsistent ids', function () {
    const s = c.signSeedKeypair(rng.bytes(32))
    const o = { signers: [s.publicKey], geometry: NETWORK_GEOMETRY, nowMs: now }
    const d = testDocument(c, relays(), {}, now)
    assert.equal(
      code(
        verifyDocument(c, signedBytes(c, d, [s]), { ...o, geometry: makeGeometry({ hops: 4, userPayloadBytes: 2048 }) })
      ),
      'DIR_GEOMETRY_MISMATCH'
    )
    assert.equal(
      code(verifyDocument(c, signedBytes(c, d, [s]), { ...o, nowMs: now + 2 * 24 * 3600_000 })),
      'DIR_NOT_VALID_NOW'
    )
    assert.equal(
      code(verifyDocument(c, signedBytes(c, d, [s]), { ...o, nowMs: now - 2 * 3600_000 })),
      'DIR_NOT_VALID_NOW'
    )
    const twisted = { ...d, relays: [d.relays[0]!, { ...d.relays[1]!, id: d.relays[0]!.id }] }
    assert.equal(code(verifyDocument(c, signedBytes(c, twisted, [s]), o)), 'DIR_INCONSISTENT/relay id')
  })

  it('refuses malformed input without throwing: bad JSON, bad shapes, oversized', function () {
    const o = { signers: [c.signSeedKeypair(rng.bytes(32)).publicKey], geometry: NETWORK_GEOMETRY, nowMs: now }
    assert.equal(code(verifyDocument(c, Buffer.from('{nope'), o)), 'DIR_MALFORMED/json')
    assert.equal(code(verifyDocument(c, Buffer.from('null'), o)), 'DIR_MALFORMED/envelope')
    assert.equal(code(verifyDocument(c, Buffer.alloc((1 << 20) + 1, 32), o)), 'DIR_TOO_LARGE')
    const d = testDocument(c, relays(), {}, now)
    for (const [bad, detail] of [
      [{ ...d, version: 2 }, 'version'],
      [{ ...d, mixing: { ...d.mixing, flushFraction: 0 } }, 'mixing'],
      [{ ...d, relays: [{ ...d.relays[0]!, layer: 2 }] }, 'relay role'],
      [{ ...d, relays: [{ ...d.relays[0]!, address: 'http://x' }] }, 'relay address']
    ] as const) {
      assert.equal(
        code(verifyDocument(c, Buffer.from(JSON.stringify({ document: bad, signatures: [] })), o)),
        `DIR_MALFORMED/${detail}`
      )
    }
  })
})
