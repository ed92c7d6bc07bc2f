/** SubmitRequest, the ingress wrap and delivery authorization (docs/PROTOCOL.md §15, §21). */
import assert from 'node:assert/strict'
import {
  CONTENT_TYPES,
  type CryptoSuite,
  checkDelivery,
  type DestinationAuth,
  deterministicRng,
  encodeSubmit,
  epochHour,
  HOUR_MS,
  loadCrypto,
  openSubmit,
  parseSubmit,
  type Result,
  type Rng,
  type SubmitRequest,
  sealMessage,
  sealSubmit,
  signDelivery,
  type X25519KeyPair
} from '../../mix/index.ts'
import { makeDevice, makeServer, senderCert, T0, xKeyPair } from '../helpers/seal.ts'

describe('submission and delivery authorization', function () {
  let c: CryptoSuite
  let rng: Rng
  let ingress: X25519KeyPair
  let cap: { publicKey: Uint8Array; secretKey: Uint8Array }
  let envelope: Buffer
  const dest = '@bob:example.org/BOBDEV'
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'submit')
    ingress = xKeyPair(c, rng)
    cap = c.signSeedKeypair(rng.bytes(32))
    const hs = makeServer(c, rng, 'example.org')
    const alice = makeDevice(c, rng, '@alice:example.org', 'A')
    const bob = makeDevice(c, rng, '@bob:example.org', 'BOBDEV')
    envelope = sealMessage(
      c,
      {
        contentType: CONTENT_TYPES.olmMessage,
        content: Buffer.from('x'),
        senderCert: senderCert(c, hs, alice),
        serverCert: hs.cert
      },
      alice.x,
      bob.x.publicKey,
      rng
    )
  })

  const request = (over: Partial<SubmitRequest> = {}): SubmitRequest => ({
    kind: 1,
    dest,
    envelope,
    auth: signDelivery(c, cap.secretKey, 3, over.dest ?? dest, T0, over.envelope ?? envelope),
    ...over
  })
  const checker = (
    dests: Record<string, DestinationAuth> = { [dest]: { capabilityKeys: [{ keyId: 3, publicKey: cap.publicKey }] } },
    nowMs = T0
  ): { nowMs: number; lookup: (d: string) => DestinationAuth | undefined; seen: (h: Buffer) => boolean } => {
    const seen = new Set<string>()
    return {
      nowMs,
      lookup: d => dests[d],
      seen: h => {
        const k = h.toString('hex')
        if (seen.has(k)) return true
        seen.add(k)
        return false
      }
    }
  }
  function denied(r: Result<unknown, 'SEAL_AUTH_DENIED'>, detail: string): void {
    assert.equal(r.ok, false)
    if (!r.ok) assert.deepEqual([r.code, r.detail], ['SEAL_AUTH_DENIED', detail])
  }

  it('round-trips a SubmitRequest through the ingress seal (+48 B)', function () {
    const req = request()
    const sealed = sealSubmit(c, req, ingress.publicKey)
    assert.equal(sealed.length, encodeSubmit(req).length + 48)
    const r = openSubmit(c, sealed, ingress)
    assert.ok(r.ok)
    assert.equal(r.value.dest, dest)
    assert.deepEqual(r.value.envelope, envelope)
    assert.deepEqual(r.value.auth, req.auth)
  })

  it('does not open a submission sealed to another ingress key', function () {
    const other = xKeyPair(c, rng)
    const r = openSubmit(c, sealSubmit(c, request(), other.publicKey), ingress)
    assert.deepEqual(r, { ok: false, code: 'SEAL_SUBMIT_UNOPENABLE' })
  })

  it('parses strictly: unknown version, kind or scheme, truncation, empty envelope', function () {
    const enc = encodeSubmit(request())
    const code = (b: Buffer): string => {
      const r = parseSubmit(b)
      return r.ok ? 'ok' : `${r.code}/${r.detail ?? ''}`
    }
    assert.equal(code(Buffer.concat([Buffer.of(2), enc.subarray(1)])), 'SEAL_SUBMIT_UNSUPPORTED/version')
    assert.equal(code(Buffer.concat([Buffer.of(1, 3), enc.subarray(2)])), 'SEAL_SUBMIT_UNSUPPORTED/kind')
    const schemeOff = 2 + 2 + Buffer.byteLength(dest) + 2
    const bad = Buffer.from(enc)
    bad[schemeOff] = 9
    assert.equal(code(bad), 'SEAL_SUBMIT_UNSUPPORTED/scheme')
    assert.equal(code(enc.subarray(0, schemeOff + 10)), 'SEAL_SUBMIT_MALFORMED/truncated')
    assert.equal(code(encodeSubmit({ ...request(), envelope: Buffer.alloc(0) })), 'SEAL_SUBMIT_MALFORMED/envelope')
  })

  it('accepts a valid capability signature once, and refuses the replayed envelope hash', function () {
    const chk = checker()
    assert.ok(checkDelivery(c, request(), chk).ok)
    denied(checkDelivery(c, request(), chk), 'replay')
  })

  it('refuses a signature by the wrong key', function () {
    const wrong = c.signSeedKeypair(rng.bytes(32))
    denied(
      checkDelivery(c, { ...request(), auth: signDelivery(c, wrong.secretKey, 3, dest, T0, envelope) }, checker()),
      'bad_signature'
    )
  })

  it('refuses a signature made for another destination or another envelope', function () {
    const forOther = signDelivery(c, cap.secretKey, 3, '@bob:example.org/OTHER', T0, envelope)
    denied(checkDelivery(c, { ...request(), auth: forOther }, checker()), 'bad_signature')
    const forOtherEnvelope = signDelivery(c, cap.secretKey, 3, dest, T0, Buffer.from('another'))
    denied(checkDelivery(c, { ...request(), auth: forOtherEnvelope }, checker()), 'bad_signature')
  })

  it('refuses a stale hour (more than one hour away) and accepts the neighbouring hours', function () {
    denied(checkDelivery(c, request(), checker(undefined, T0 + 2 * HOUR_MS)), 'stale_hour')
    denied(checkDelivery(c, request(), checker(undefined, T0 - 2 * HOUR_MS)), 'stale_hour')
    assert.ok(checkDelivery(c, request(), checker(undefined, T0 + HOUR_MS)).ok)
    assert.equal(epochHour(T0), Math.floor(T0 / 3_600_000))
  })

  it('refuses an unknown key id, and accepts the previous key during its grace', function () {
    const prev = c.signSeedKeypair(rng.bytes(32))
    const d = {
      [dest]: {
        capabilityKeys: [
          { keyId: 4, publicKey: cap.publicKey },
          { keyId: 3, publicKey: prev.publicKey }
        ]
      }
    }
    denied(
      checkDelivery(c, { ...request(), auth: signDelivery(c, cap.secretKey, 5, dest, T0, envelope) }, checker(d)),
      'unknown_key'
    )
    assert.ok(
      checkDelivery(c, { ...request(), auth: signDelivery(c, prev.secretKey, 3, dest, T0, envelope) }, checker(d)).ok
    )
  })

  it('answers an unknown destination exactly like an authorization failure', function () {
    const r = checkDelivery(c, request({ dest: '@nobody:example.org/X' }), checker())
    denied(r, 'unknown_destination')
    const other = checkDelivery(
      c,
      { ...request(), auth: signDelivery(c, c.signSeedKeypair(rng.bytes(32)).secretKey, 3, dest, T0, envelope) },
      checker()
    )
    assert.equal(r.ok || other.ok, false)
    if (!r.ok && !other.ok) assert.equal(r.code, other.code, 'one public code for both')
  })

  it('checks a bearer token against stored hashes only', function () {
    const token = rng.bytes(32)
    const h = Buffer.alloc(32)
    c.blake2b(h, token)
    const d = { [dest]: { capabilityKeys: [], bearerHashes: [h] } }
    assert.ok(checkDelivery(c, { ...request(), auth: { scheme: 'bearer', token } }, checker(d)).ok)
    denied(
      checkDelivery(c, { ...request(), auth: { scheme: 'bearer', token: rng.bytes(32) } }, checker(d)),
      'bad_token'
    )
    const sealed = openSubmit(
      c,
      sealSubmit(c, { ...request(), auth: { scheme: 'bearer', token } }, ingress.publicKey),
      ingress
    )
    assert.ok(sealed.ok)
    assert.deepEqual(sealed.value.auth, { scheme: 'bearer', token })
  })
})
