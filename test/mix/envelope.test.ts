/**
 * MXSS v1 sealed sender: round trips, reference sizes, and the negative tests of
 * docs/PROTOCOL.md §14 and §21, each failing with its own stable code.
 */
import assert from 'node:assert/strict'
import {
  CONTENT_TYPES,
  type CryptoSuite,
  deterministicRng,
  encodeInner,
  loadCrypto,
  openMessage,
  openV1,
  openV2,
  padToBucket,
  parseInner,
  parseSenderCert,
  parseServerCert,
  type Result,
  type Rng,
  type SealCode,
  sealMessage,
  sealMessageV2,
  signServerCert,
  unpadBucket,
  V1_OVERHEAD,
  V2_OVERHEAD,
  type VerifiedMessage,
  v2CopyWire
} from '../../mix/index.ts'
import { DAY, type Device, makeDevice, makeServer, type Server, senderCert, T0, trustOf } from '../helpers/seal.ts'

function expectCode<T>(r: Result<T, SealCode>, code: SealCode): void {
  assert.equal(r.ok, false, `expected ${code}, got ok`)
  if (!r.ok) assert.equal(r.code, code)
}

describe('sealed sender (MXSS v1)', function () {
  let c: CryptoSuite
  let rng: Rng
  let hs: Server
  let evil: Server
  let alice: Device
  let bob: Device
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'mxss')
    hs = makeServer(c, rng, 'example.org')
    evil = makeServer(c, rng, 'evil.org')
    alice = makeDevice(c, rng, '@alice:example.org', 'ALICEDEV')
    bob = makeDevice(c, rng, '@bob:example.org', 'BOBDEV')
  })

  const msg = (over: Partial<Parameters<typeof sealMessage>[1]> = {}): Parameters<typeof sealMessage>[1] => ({
    contentType: CONTENT_TYPES.olmMessage,
    content: Buffer.from('hello bob'),
    senderCert: senderCert(c, hs, alice),
    serverCert: hs.cert,
    ...over
  })
  const open = (
    wire: Buffer,
    o: { now?: number; trust?: ReturnType<typeof trustOf>; self?: { userId: string; deviceId: string } } = {}
  ): Result<VerifiedMessage, SealCode> =>
    openMessage(c, wire, bob.x, o.trust ?? trustOf([hs, evil]), {
      nowMs: o.now ?? T0,
      self: o.self ?? { userId: bob.userId, deviceId: bob.deviceId }
    })

  describe('certificates', function () {
    it('have the reference sizes: ServerCert 130 B for example.org, SenderCert 153 B + ids', function () {
      assert.equal(hs.cert.encoded.length, 130)
      const sc = senderCert(c, hs, alice)
      assert.equal(sc.encoded.length, 153 + alice.userId.length + alice.deviceId.length)
    })
    it('parse back to the same fields', function () {
      const p = parseServerCert(hs.cert.encoded)
      assert.ok(p.ok)
      assert.equal(p.value.serverName, 'example.org')
      assert.deepEqual(p.value.signature, hs.cert.signature)
      const s = parseSenderCert(senderCert(c, hs, alice).encoded)
      assert.ok(s.ok)
      assert.equal(s.value.userId, alice.userId)
      assert.equal(s.value.deviceId, alice.deviceId)
    })
    it('refuse truncation, trailing bytes and an unknown version', function () {
      const sc = senderCert(c, hs, alice).encoded
      expectCode(parseServerCert(hs.cert.encoded.subarray(0, 129)), 'SEAL_SERVER_CERT_MALFORMED')
      expectCode(parseServerCert(Buffer.concat([hs.cert.encoded, Buffer.of(0)])), 'SEAL_SERVER_CERT_MALFORMED')
      expectCode(
        parseServerCert(Buffer.concat([Buffer.of(2), hs.cert.encoded.subarray(1)])),
        'SEAL_SERVER_CERT_MALFORMED'
      )
      expectCode(parseSenderCert(sc.subarray(0, sc.length - 1)), 'SEAL_SENDER_CERT_MALFORMED')
      expectCode(parseSenderCert(Buffer.concat([sc, Buffer.of(1)])), 'SEAL_SENDER_CERT_MALFORMED')
    })
  })

  describe('inner content', function () {
    it('pads to the smallest bucket larger than the content, and a short message to 1024 B', function () {
      assert.equal(padToBucket(Buffer.alloc(255)).length, 256)
      assert.equal(padToBucket(Buffer.alloc(256)).length, 1024)
      assert.equal(padToBucket(Buffer.alloc(65535)).length, 65536)
      assert.throws(() => padToBucket(Buffer.alloc(65536)), { code: 'MIX_BAD_ARGUMENT' })
      const inner = encodeInner({
        contentType: 2,
        contentHint: 0,
        senderCert: senderCert(c, hs, alice).encoded,
        serverCert: hs.cert.encoded,
        groupId: Buffer.alloc(0),
        content: Buffer.from('hi')
      })
      assert.equal(inner.length, 1024)
    })
    it('refuses bad padding and non-bucket lengths', function () {
      assert.equal(unpadBucket(Buffer.alloc(256)), null)
      assert.equal(unpadBucket(Buffer.alloc(300)), null)
      const p = padToBucket(Buffer.from('abc'))
      p[3] = 0x81
      assert.equal(unpadBucket(p), null)
      expectCode(parseInner(Buffer.alloc(256)), 'SEAL_PADDING_INVALID')
      expectCode(parseInner(padToBucket(Buffer.from([2, 0, 0, 5]))), 'SEAL_INNER_MALFORMED')
      expectCode(parseInner(padToBucket(Buffer.from([99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))), 'SEAL_INNER_MALFORMED')
    })
  })

  describe('envelope v1', function () {
    it('opens at the recipient and yields the verified sender; overhead 97 B', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      assert.equal(wire.length, 1024 + V1_OVERHEAD)
      assert.equal(V1_OVERHEAD, 97)
      const r = open(wire)
      assert.ok(r.ok, r.ok ? '' : r.code)
      assert.equal(r.value.envelopeVersion, 1)
      assert.equal(r.value.sender.userId, alice.userId)
      assert.equal(r.value.sender.deviceId, alice.deviceId)
      assert.equal(r.value.content.toString(), 'hello bob')
    })
    it('fails for the wrong recipient', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      expectCode(openMessage(c, wire, alice.x, trustOf([hs]), { nowMs: T0 }), 'SEAL_DECRYPT_FAILED')
    })
    it('fails when any byte of the header, c_static or c_msg is changed', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      for (const [off, code] of [
        [0, 'SEAL_ENVELOPE_MALFORMED'],
        [1, 'SEAL_DECRYPT_FAILED'],
        [32, 'SEAL_DECRYPT_FAILED'],
        [33, 'SEAL_DECRYPT_FAILED'],
        [80, 'SEAL_DECRYPT_FAILED'],
        [81, 'SEAL_DECRYPT_FAILED'],
        [600, 'SEAL_DECRYPT_FAILED'],
        [wire.length - 1, 'SEAL_DECRYPT_FAILED']
      ] as const) {
        const w = Buffer.from(wire)
        w[off] = w[off]! ^ 0x10
        expectCode(open(w), code)
      }
      expectCode(open(wire.subarray(0, 96)), 'SEAL_ENVELOPE_MALFORMED')
    })
    it('refuses a low-order ephemeral key', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      Buffer.alloc(32).copy(wire, 1)
      expectCode(open(wire), 'SEAL_LOW_ORDER_KEY')
    })
    it('refuses a valid certificate pasted into an envelope sealed with another static key (binding)', function () {
      const mallory = makeDevice(c, rng, '@mallory:example.org', 'M')
      const wire = sealMessage(c, msg({ senderCert: senderCert(c, hs, alice) }), mallory.x, bob.x.publicKey, rng)
      expectCode(open(wire), 'SEAL_KEY_BINDING_MISMATCH')
    })
    it('refuses an expired SenderCert, and one issued in the future beyond the skew', function () {
      expectCode(
        open(sealMessage(c, msg(), alice.x, bob.x.publicKey, rng), { now: T0 + DAY }),
        'SEAL_SENDER_CERT_EXPIRED'
      )
      const future = msg({ senderCert: senderCert(c, hs, alice, { issuedMs: T0 + 5 * 60_000 + 1 }) })
      expectCode(open(sealMessage(c, future, alice.x, bob.x.publicKey, rng)), 'SEAL_SENDER_CERT_FROM_FUTURE')
      const withinSkew = msg({ senderCert: senderCert(c, hs, alice, { issuedMs: T0 + 5 * 60_000 }) })
      assert.ok(open(sealMessage(c, withinSkew, alice.x, bob.x.publicKey, rng)).ok)
    })
    it('refuses a SenderCert that lives longer than 24 h', function () {
      const long = msg({
        senderCert: senderCert(c, hs, alice, { issuedMs: T0 - 1000, expiresMs: T0 - 1000 + DAY + 1 })
      })
      expectCode(open(sealMessage(c, long, alice.x, bob.x.publicKey, rng)), 'SEAL_SENDER_CERT_LIFETIME')
    })
    it('refuses a SenderCert with a forged signature', function () {
      const sc = senderCert(c, hs, alice)
      const forged = { ...sc, encoded: Buffer.from(sc.encoded) }
      forged.encoded[forged.encoded.length - 5] = forged.encoded[forged.encoded.length - 5]! ^ 1
      expectCode(
        open(sealMessage(c, msg({ senderCert: forged }), alice.x, bob.x.publicKey, rng)),
        'SEAL_SENDER_CERT_BAD_SIGNATURE'
      )
      const byOther = senderCert(c, { ...hs, issuing: evil.issuing }, alice)
      expectCode(
        open(sealMessage(c, msg({ senderCert: byOther }), alice.x, bob.x.publicKey, rng)),
        'SEAL_SENDER_CERT_BAD_SIGNATURE'
      )
    })
    it('refuses a ServerCert outside not_before..not_after, revoked, or not signed by a pinned root', function () {
      const young = makeServer(c, rng, 'example.org', 8, { notBeforeMs: T0 + 1 })
      const s1 = msg({ senderCert: senderCert(c, young, alice), serverCert: young.cert })
      expectCode(
        open(sealMessage(c, s1, alice.x, bob.x.publicKey, rng), { trust: trustOf([young]) }),
        'SEAL_SERVER_CERT_NOT_YET_VALID'
      )
      const old = makeServer(c, rng, 'example.org', 9, { notAfterMs: T0 - 1 })
      const s2 = msg({ senderCert: senderCert(c, old, alice), serverCert: old.cert })
      expectCode(
        open(sealMessage(c, s2, alice.x, bob.x.publicKey, rng), { trust: trustOf([old]) }),
        'SEAL_SERVER_CERT_EXPIRED'
      )
      expectCode(
        open(sealMessage(c, msg(), alice.x, bob.x.publicKey, rng), { trust: trustOf([hs], [['example.org', 7]]) }),
        'SEAL_SERVER_CERT_REVOKED'
      )
      const rogue = makeServer(c, rng, 'example.org', 7)
      const s3 = msg({ senderCert: senderCert(c, rogue, alice), serverCert: rogue.cert })
      expectCode(
        open(sealMessage(c, s3, alice.x, bob.x.publicKey, rng), { trust: trustOf([hs]) }),
        'SEAL_SERVER_CERT_UNTRUSTED'
      )
    })
    it('checks every pinned root (any of several roots verifies)', function () {
      const second = makeServer(c, rng, 'example.org', 7)
      const trust = trustOf([second, hs])
      assert.ok(open(sealMessage(c, msg(), alice.x, bob.x.publicKey, rng), { trust }).ok)
    })
    it('refuses a cert for @alice:example.org chained to evil.org (domain mismatch)', function () {
      const s = msg({ senderCert: senderCert(c, evil, alice), serverCert: evil.cert })
      expectCode(open(sealMessage(c, s, alice.x, bob.x.publicKey, rng)), 'SEAL_DOMAIN_MISMATCH')
    })
    it('resolves a ServerCert sent by reference, and refuses an unknown one or a key-id mismatch', function () {
      assert.ok(open(sealMessage(c, msg({ serverCert: undefined }), alice.x, bob.x.publicKey, rng)).ok)
      expectCode(
        open(
          sealMessage(
            c,
            msg({ serverCert: undefined, senderCert: senderCert(c, hs, alice, { signerKeyId: 99 }) }),
            alice.x,
            bob.x.publicKey,
            rng
          )
        ),
        'SEAL_SERVER_CERT_UNKNOWN'
      )
      expectCode(
        open(
          sealMessage(
            c,
            msg({ senderCert: senderCert(c, hs, alice, { signerKeyId: 99 }) }),
            alice.x,
            bob.x.publicKey,
            rng
          )
        ),
        'SEAL_SIGNER_MISMATCH'
      )
    })
    it('refuses a self-send from the same user and device', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      expectCode(open(wire, { self: { userId: alice.userId, deviceId: alice.deviceId } }), 'SEAL_SELF_SEND')
    })
    it('cross-checks published device keys when asked (step 7)', function () {
      const wire = sealMessage(c, msg(), alice.x, bob.x.publicKey, rng)
      const base = { nowMs: T0 }
      assert.ok(
        openMessage(c, wire, bob.x, trustOf([hs]), {
          ...base,
          deviceKeys: () => ({ ed25519: alice.ed.publicKey, x25519: alice.x.publicKey })
        }).ok
      )
      expectCode(
        openMessage(c, wire, bob.x, trustOf([hs]), {
          ...base,
          deviceKeys: () => ({ ed25519: bob.ed.publicKey, x25519: alice.x.publicKey })
        }),
        'SEAL_DEVICE_KEYS_MISMATCH'
      )
      expectCode(
        openMessage(c, wire, bob.x, trustOf([hs]), { ...base, deviceKeys: () => undefined }),
        'SEAL_DEVICE_KEYS_MISMATCH'
      )
    })
    it('refuses a malformed user id inside a validly signed cert', function () {
      const s = msg({ senderCert: senderCert(c, hs, alice, { userId: 'alice' }) })
      expectCode(open(sealMessage(c, s, alice.x, bob.x.publicKey, rng)), 'SEAL_SENDER_CERT_MALFORMED')
    })
    it('refuses a truncated certificate inside the envelope', function () {
      const sc = senderCert(c, hs, alice)
      const cut = { ...sc, encoded: sc.encoded.subarray(0, 100) }
      expectCode(
        open(sealMessage(c, msg({ senderCert: cut }), alice.x, bob.x.publicKey, rng)),
        'SEAL_SENDER_CERT_MALFORMED'
      )
      const cutServer = { ...hs.cert, encoded: hs.cert.encoded.subarray(0, 60) }
      expectCode(
        open(sealMessage(c, msg({ serverCert: cutServer }), alice.x, bob.x.publicKey, rng)),
        'SEAL_SERVER_CERT_MALFORMED'
      )
    })
  })

  describe('envelope v2', function () {
    it('lets each recipient device open its own copy; overhead 97 B per copy', function () {
      const bob2 = makeDevice(c, rng, '@bob:example.org', 'BOBPHONE')
      const sealed = sealMessageV2(c, msg(), alice.x, [bob.x.publicKey, bob2.x.publicKey], rng)
      assert.equal(V2_OVERHEAD, 97)
      for (const [i, d] of [bob, bob2].entries()) {
        const wire = v2CopyWire(sealed, sealed.copies[i]!)
        assert.equal(wire.length, 1024 + V2_OVERHEAD)
        const r = openMessage(c, wire, d.x, trustOf([hs]), { nowMs: T0 })
        assert.ok(r.ok, r.ok ? '' : r.code)
        assert.equal(r.value.envelopeVersion, 2)
        assert.equal(r.value.sender.userId, alice.userId)
      }
    })
    it("fails with another device's C_i/AT_i", function () {
      const bob2 = makeDevice(c, rng, '@bob:example.org', 'BOBPHONE')
      const sealed = sealMessageV2(c, msg(), alice.x, [bob.x.publicKey, bob2.x.publicKey], rng)
      expectCode(
        openMessage(c, v2CopyWire(sealed, sealed.copies[1]!), bob.x, trustOf([hs]), { nowMs: T0 }),
        'SEAL_V2_KEY_MISMATCH'
      )
      const mixed = v2CopyWire(sealed, { c: sealed.copies[0]!.c, at: sealed.copies[1]!.at })
      expectCode(openMessage(c, mixed, bob.x, trustOf([hs]), { nowMs: T0 }), 'SEAL_V2_AUTH_FAILED')
    })
    it('fails when C_i, AT_i, E_pk or ct is changed', function () {
      const sealed = sealMessageV2(c, msg(), alice.x, [bob.x.publicKey], rng)
      const wire = v2CopyWire(sealed, sealed.copies[0]!)
      for (const [off, code] of [
        [1, 'SEAL_V2_KEY_MISMATCH'],
        [40, 'SEAL_V2_AUTH_FAILED'],
        [60, 'SEAL_V2_KEY_MISMATCH'],
        [100, 'SEAL_DECRYPT_FAILED']
      ] as const) {
        const w = Buffer.from(wire)
        w[off] = w[off]! ^ 4
        expectCode(openMessage(c, w, bob.x, trustOf([hs]), { nowMs: T0 }), code)
      }
    })
    it('refuses a certificate for another sender key (the AT binding)', function () {
      const mallory = makeDevice(c, rng, '@mallory:example.org', 'M')
      const sealed = sealMessageV2(c, msg(), mallory.x, [bob.x.publicKey], rng)
      expectCode(
        openMessage(c, v2CopyWire(sealed, sealed.copies[0]!), bob.x, trustOf([hs]), { nowMs: T0 }),
        'SEAL_V2_AUTH_FAILED'
      )
    })
  })

  it("openV1/openV2 refuse each other's format and short input", function () {
    expectCode(openV1(c, Buffer.alloc(200, 0x22), bob.x), 'SEAL_ENVELOPE_MALFORMED')
    expectCode(openV2(c, Buffer.alloc(200, 0x11), bob.x), 'SEAL_ENVELOPE_MALFORMED')
    expectCode(openMessage(c, Buffer.alloc(0), bob.x, trustOf([hs]), { nowMs: T0 }), 'SEAL_ENVELOPE_MALFORMED')
  })

  it('keeps a ServerCert signature over the label and body only', function () {
    const again = signServerCert(
      c,
      {
        keyId: hs.cert.keyId,
        notBeforeMs: hs.cert.notBeforeMs,
        notAfterMs: hs.cert.notAfterMs,
        issuingKey: hs.cert.issuingKey,
        serverName: hs.cert.serverName
      },
      hs.root.secretKey
    )
    assert.deepEqual(again.encoded, hs.cert.encoded, 'Ed25519 is deterministic, so the same body gives the same cert')
  })
})
