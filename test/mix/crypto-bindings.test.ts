/**
 * The two libsodium bindings must be interchangeable: the same inputs give identical bytes for
 * every primitive the protocol uses, and a packet built with one unwraps with the other.
 */
import assert from 'node:assert/strict'
import { type CryptoSuite, deterministicRng, loadCrypto, MixError, makeGeometry, Sphinx } from '../../mix/index.ts'
import { hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

describe('crypto bindings', function () {
  let native: CryptoSuite
  let wasm: CryptoSuite
  before(async function () {
    native = await loadCrypto('sodium-native')
    wasm = await loadCrypto('libsodium-wrappers')
  })

  it('loads each binding by name and prefers the native one by default', async function () {
    assert.equal(native.name, 'sodium-native')
    assert.equal(wasm.name, 'libsodium-wrappers')
    assert.equal((await loadCrypto()).name, 'sodium-native')
  })

  it('rejects an unknown binding name with MIX_NO_BINDING', async function () {
    await assert.rejects(
      loadCrypto('nope' as 'sodium-native'),
      (e: unknown) => e instanceof MixError && e.code === 'MIX_NO_BINDING'
    )
  })

  it('gives identical bytes for every primitive on the same inputs', function () {
    const rng = deterministicRng(native, 'bindings')
    for (let round = 0; round < 20; round++) {
      const sk = rng.bytes(32)
      const pk = rng.bytes(32)
      const msg = rng.bytes(1 + round * 37)
      const key = rng.bytes(32)
      const a = Buffer.alloc(32)
      const b = Buffer.alloc(32)
      assert.equal(native.x25519(a, sk, pk), wasm.x25519(b, sk, pk))
      assert.deepEqual(a, b)
      native.x25519Base(a, sk)
      wasm.x25519Base(b, sk)
      assert.deepEqual(a, b)
      const s1 = Buffer.alloc(msg.length)
      const s2 = Buffer.alloc(msg.length)
      native.chacha20Xor(s1, msg, key)
      wasm.chacha20Xor(s2, msg, key)
      assert.deepEqual(s1, s2)
      const k64 = rng.bytes(64)
      native.blake2b(a, msg, k64)
      wasm.blake2b(b, msg, k64)
      assert.deepEqual(a, b)
      native.blake2b(a, msg)
      wasm.blake2b(b, msg)
      assert.deepEqual(a, b)
      const d1 = Buffer.alloc(24)
      const d2 = Buffer.alloc(24)
      native.kdfDerive(d1, round + 1, 'MXSSeph1', key)
      wasm.kdfDerive(d2, round + 1, 'MXSSeph1', key)
      assert.deepEqual(d1, d2)
      const seed = rng.bytes(32)
      const kp1 = native.signSeedKeypair(seed)
      const kp2 = wasm.signSeedKeypair(seed)
      assert.deepEqual(Buffer.from(kp1.publicKey), Buffer.from(kp2.publicKey))
      const sig = native.signDetached(msg, kp1.secretKey)
      assert.deepEqual(Buffer.from(sig), Buffer.from(wasm.signDetached(msg, kp2.secretKey)))
      assert.ok(wasm.verifyDetached(sig, msg, kp1.publicKey))
      const nonce = rng.bytes(24)
      const ad = rng.bytes(7)
      const ct = native.aeadEncrypt(msg, ad, nonce, key)
      assert.deepEqual(Buffer.from(ct), Buffer.from(wasm.aeadEncrypt(msg, ad, nonce, key)))
      assert.deepEqual(Buffer.from(wasm.aeadDecrypt(ct, ad, nonce, key) ?? []), msg)
      const bsk = rng.bytes(32)
      const bpk = Buffer.alloc(32)
      native.x25519Base(bpk, bsk)
      assert.deepEqual(Buffer.from(wasm.boxSealOpen(native.boxSeal(msg, bpk), bpk, bsk) ?? []), msg)
      assert.deepEqual(Buffer.from(native.boxSealOpen(wasm.boxSeal(msg, bpk), bpk, bsk) ?? []), msg)
    }
  })

  it('reports a low-order point as false from both, never as an exception', function () {
    const out = Buffer.alloc(32)
    for (const c of [native, wasm]) {
      assert.equal(c.x25519(out, Buffer.alloc(32, 7), Buffer.alloc(32)), false)
      assert.equal(
        c.x25519(out, Buffer.alloc(32, 7), hex('0100000000000000000000000000000000000000000000000000000000000000')),
        false
      )
    }
  })

  it('unwraps the first hop of every Katzenpost Sphinx case with both and gets identical bytes', function () {
    requireVectors(this, 'katzenpost/testdata/sphinx_vectors.json')
    const cases = loadVectors<Array<{ Nodes: Array<{ PrivateKey: string }>; Packets: string[] }>>(
      'katzenpost/testdata/sphinx_vectors.json'
    )
    for (const c of cases) {
      const pkt = hex(c.Packets[0]!)
      const outs = [native, wasm].map(cr => {
        const s = new Sphinx(cr, makeGeometry({ hops: 5, userPayloadBytes: 103 }))
        const r = s.unwrap(pkt, { keys: [hex(c.Nodes[0]!.PrivateKey)], strictCombinations: false })
        return r.type === 'forward'
          ? r.packet.toString('hex')
          : r.type === 'surb_reply'
            ? r.body.toString('hex')
            : r.type === 'deliver'
              ? r.payload.toString('hex')
              : r.detail
      })
      assert.equal(outs[0], outs[1])
      tally('katzenpost sphinx first hops, full bytes identical across bindings')
    }
  })

  it('a packet built with one binding unwraps with the other', function () {
    const rng = deterministicRng(native, 'cross')
    const sk = rng.bytes(32)
    const pk = Buffer.alloc(32)
    native.x25519Base(pk, sk)
    const payload = rng.bytes(2048)
    const hop = {
      id: rng.bytes(32),
      publicKey: pk,
      commands: [
        { type: 'node_delay' as const, delayMs: 5 },
        { type: 'recipient' as const, id: rng.bytes(32) }
      ]
    }
    const pkt = new Sphinx(native).createPacket([hop], payload, rng)
    const r = new Sphinx(wasm).unwrap(pkt, { keys: [sk] })
    assert.equal(r.type, 'deliver')
    if (r.type === 'deliver') assert.deepEqual(r.payload, payload)
  })
})
