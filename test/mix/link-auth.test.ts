import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  deterministicRng,
  encodeHello,
  type Hello,
  loadCrypto,
  parseHello,
  type Rng,
  signLink,
  verifyLink
} from '../../mix/index.ts'

describe('link handshake', function () {
  let c: CryptoSuite
  let rng: Rng
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'link')
  })

  it('lets each side prove its identity key to the other, and refuses reflection and the wrong key', function () {
    const a = c.signSeedKeypair(rng.bytes(32))
    const b = c.signSeedKeypair(rng.bytes(32))
    const ha: Hello = { role: 'relay', id: rng.bytes(32), nonce: rng.bytes(32) }
    const hb: Hello = { role: 'relay', id: rng.bytes(32), nonce: rng.bytes(32) }
    const fromA = signLink(c, 1, ha, hb, a.secretKey)
    const fromB = signLink(c, 2, hb, ha, b.secretKey)
    assert.ok(verifyLink(c, 1, ha, hb, fromA, a.publicKey))
    assert.ok(verifyLink(c, 2, hb, ha, fromB, b.publicKey))
    assert.equal(
      verifyLink(c, 2, ha, hb, fromA, a.publicKey),
      false,
      'a dialer signature does not pass as a listener one'
    )
    assert.equal(verifyLink(c, 1, ha, hb, fromA, b.publicKey), false)
    assert.equal(
      verifyLink(c, 1, ha, { ...hb, nonce: rng.bytes(32) }, fromA, a.publicKey),
      false,
      'bound to the peer nonce'
    )
  })

  it('encodes and parses HELLO strictly', function () {
    const h: Hello = { role: 'ingress', id: rng.bytes(32), nonce: rng.bytes(32) }
    assert.deepEqual(parseHello(encodeHello(h)), h)
    assert.equal(parseHello(Buffer.alloc(10)), null)
    const bad = encodeHello(h)
    bad[1] = 9
    assert.equal(parseHello(bad), null)
    const v2 = encodeHello(h)
    v2[0] = 2
    assert.equal(parseHello(v2), null)
  })
})
