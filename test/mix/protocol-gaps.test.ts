/**
 * Statements of docs/PROTOCOL.md that an implementer needs and that no other test pins, checked on
 * mix/ directly: the node_delay bound (§4), the order of the recipient checks (§14), canonical
 * JSON (§18) and the types and ranges a network document may hold (§18).
 */
import assert from 'node:assert/strict'
import {
  CONTENT_TYPES,
  type CryptoSuite,
  canonicalJson,
  deterministicRng,
  loadCrypto,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  openMessage,
  type Rng,
  Sphinx,
  sealMessage,
  signDocument,
  type UnwrapResult,
  verifyDocument
} from '../../mix/index.ts'
import { testDocument, testRelay } from '../helpers/network.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf } from '../helpers/seal.ts'
import { forwardPath, makeRelays } from '../helpers/sphinx.ts'

const outcome = (r: UnwrapResult): string => (r.type === 'drop' ? `${r.reason}/${r.detail}` : r.type)

describe('docs/PROTOCOL.md, statements for implementers', function () {
  let c: CryptoSuite
  let rng: Rng
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'protocol-gaps')
  })

  describe('§4: node_delay is bounded by mixing.maxDelayMs', function () {
    it('drops a 1500 ms delay under a 1000 ms bound as malformed, on a forward hop and on a deliver hop; the bound itself passes', function () {
      const s = new Sphinx(c)
      const [a, b] = makeRelays(c, rng, 2)
      const payload = rng.bytes(NETWORK_GEOMETRY.userPayloadBytes)
      const over = s.createPacket(forwardPath([a!, b!], rng.bytes(32), [1500, 1500]), payload, rng)
      assert.equal(outcome(s.unwrap(over, { keys: [a!.sk], maxDelayMs: 1000 })), 'malformed/delay_too_long')
      const first = s.unwrap(over, { keys: [a!.sk], maxDelayMs: 1500 })
      assert.equal(first.type, 'forward')
      if (first.type !== 'forward') return
      assert.equal(
        outcome(s.unwrap(first.packet, { keys: [b!.sk], maxDelayMs: 1000 })),
        'malformed/delay_too_long',
        'the deliver hop too'
      )
      const equal = s.createPacket(forwardPath([a!, b!], rng.bytes(32), [1000, 1000]), payload, rng)
      assert.equal(outcome(s.unwrap(equal, { keys: [a!.sk], maxDelayMs: 1000 })), 'forward')
    })
  })

  describe('§14: the order of the recipient checks', function () {
    it('checks the sender key binding before the form of user_id', function () {
      const hs = makeServer(c, rng, 'example.org')
      const alice = makeDevice(c, rng, '@alice:example.org', 'A')
      const bob = makeDevice(c, rng, '@bob:example.org', 'B')
      const mallory = makeDevice(c, rng, '@mallory:example.org', 'M')
      const bad = senderCert(c, hs, alice, { userId: 'alice-without-a-server' })
      const msg = {
        contentType: CONTENT_TYPES.olmMessage,
        content: Buffer.from('x'),
        senderCert: bad,
        serverCert: hs.cert
      }
      const code = (from: typeof alice): string => {
        const r = openMessage(c, sealMessage(c, msg, from.x, bob.x.publicKey, rng), bob.x, trustOf([hs]), { nowMs: T0 })
        return r.ok ? 'ok' : r.code
      }
      assert.equal(code(mallory), 'SEAL_KEY_BINDING_MISMATCH')
      assert.equal(code(alice), 'SEAL_SENDER_CERT_MALFORMED')
    })
  })

  describe('§18: canonical JSON', function () {
    it('escapes strings as JSON.stringify does, sorts keys by UTF-16 code units, writes numbers in their shortest form', function () {
      const v = {
        b: 'a"\\/\b\t\n\f\r\u0001\u001f\u007f\u00e9\u2028\ud800',
        a: [1e21, 1e-7, 0.7, -0, 100],
        B: true,
        _: null,
        é: 1
      }
      assert.equal(
        canonicalJson(v),
        '{"B":true,"_":null,"a":[1e+21,1e-7,0.7,0,100],"b":"a\\"\\\\/\\b\\t\\n\\f\\r\\u0001\\u001f\u007f\u00e9\u2028\\ud800","é":1}'
      )
    })
  })

  describe('§18: what a network document may hold', function () {
    const now = Date.UTC(2026, 10, 27)
    let signer: { publicKey: Uint8Array; secretKey: Uint8Array }
    let doc: NetworkDocument
    before(function () {
      signer = c.signSeedKeypair(rng.bytes(32))
      doc = testDocument(
        c,
        [testRelay(c, rng, 'gateway', 0, 'ws://127.0.0.1:1'), testRelay(c, rng, 'mix', 1, 'ws://127.0.0.1:2')],
        {},
        now
      )
    })
    const verify = (d: unknown, signatures?: unknown): string => {
      const signed =
        signatures === undefined ? signDocument(c, d as NetworkDocument, [signer]) : { document: d, signatures }
      const r = verifyDocument(c, Buffer.from(JSON.stringify(signed)), {
        signers: [signer.publicKey],
        geometry: NETWORK_GEOMETRY,
        nowMs: now
      })
      return r.ok ? 'ok' : `${r.code}${r.detail !== undefined ? '/' + r.detail : ''}`
    }

    it('takes an empty ingresses list, and an ingress whose gateways list is empty', function () {
      assert.equal(verify({ ...doc, ingresses: [] }), 'ok')
      const ing = testRelay(c, rng, 'mix', 1, 'ws://unused:1')
      const entry = {
        id: ing.id,
        serverName: 'example.org',
        identityKey: Buffer.from(ing.identity.publicKey).toString('hex'),
        boxKey: ing.mix.publicKey.toString('hex'),
        gateways: [],
        binding: { notAfterMs: now, signature: '00'.repeat(64) }
      }
      assert.equal(verify({ ...doc, ingresses: [entry] }), 'ok')
    })

    it('takes as network a string of 1 to 64 UTF-16 code units, any characters, and nothing else', function () {
      assert.equal(verify({ ...doc, network: 'x'.repeat(64) }), 'ok')
      assert.equal(verify({ ...doc, network: 'réseau ✓ "1"' }), 'ok')
      assert.equal(verify({ ...doc, network: 'x'.repeat(65) }), 'DIR_MALFORMED/network')
      assert.equal(verify({ ...doc, network: '' }), 'DIR_MALFORMED/network')
      assert.equal(verify({ ...doc, network: 7 }), 'DIR_MALFORMED/network')
    })

    it('counts a signature only under a signer written in lowercase hex', function () {
      const good = signDocument(c, doc, [signer]).signatures[0]!
      assert.equal(verify(doc, [good]), 'ok')
      assert.equal(verify(doc, [{ ...good, signer: good.signer.toUpperCase() }]), 'DIR_BAD_SIGNATURES')
      assert.equal(verify(doc, [{ ...good, signature: good.signature.toUpperCase() }]), 'DIR_BAD_SIGNATURES')
    })

    it('signs the parsed document: spacing and key order of the file do not matter, an unknown member is signed and ignored', function () {
      const extra = { ...doc, note: 'not in this version' }
      const signed = signDocument(c, extra as unknown as NetworkDocument, [signer])
      const reordered = `{ "signatures": ${JSON.stringify(signed.signatures)},\n  "document": ${JSON.stringify(Object.fromEntries(Object.entries(extra).reverse()), null, 2)} }`
      assert.equal(
        verifyDocument(c, Buffer.from(reordered), {
          signers: [signer.publicKey],
          geometry: NETWORK_GEOMETRY,
          nowMs: now
        }).ok,
        true
      )
      assert.equal(verify({ ...extra, note: 'changed' }, signed.signatures), 'DIR_BAD_SIGNATURES')
    })

    it('holds mixing fields to their types and ranges', function () {
      const m = doc.mixing
      for (const ok of [
        { flushFraction: 1 },
        { intervalMs: 1 },
        { minPool: 0, minBatch: 0, maxDelayMs: 0, loopRatePerSec: 0 },
        { strategy: 'poisson' },
        { hopDelayMs: 1e6, clientRatePerSec: 0.25, clientLoopRatePerSec: 1e6 }
      ]) {
        assert.equal(verify({ ...doc, mixing: { ...m, ...ok } }), 'ok', JSON.stringify(ok))
      }
      for (const bad of [
        { flushFraction: 0 },
        { flushFraction: 1.5 },
        { intervalMs: 0 },
        { minPool: 1.5 },
        { minBatch: -1 },
        { maxDelayMs: 1.5 },
        { loopRatePerSec: -1 },
        { strategy: 'fifo' },
        { hopDelayMs: 1e6 + 1 },
        { clientRatePerSec: '2' }
      ]) {
        assert.equal(verify({ ...doc, mixing: { ...m, ...bad } }), 'DIR_MALFORMED/mixing', JSON.stringify(bad))
      }
    })
  })
})
