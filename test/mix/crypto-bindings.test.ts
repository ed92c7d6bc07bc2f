/**
 * The bindings must be interchangeable: the same inputs give identical bytes for every primitive the
 * protocol uses, and a packet built with one unwraps with another. sodium-native is the reference;
 * libsodium-wrappers shares its node:crypto primitives, the browser binding shares nothing with it.
 */
import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  createBrowserCrypto,
  deterministicRng,
  loadCrypto,
  MixError,
  makeGeometry,
  type PathHop,
  type Rng,
  Sphinx
} from '../../mix/index.ts'
import { hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

/** X25519 points whose product with any clamped scalar is the all-zero point (RFC 7748 §7 / libsodium's blocklist). */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
]

/** A view of n bytes starting `offset` bytes into a fresh allocation, to exercise unaligned buffers. */
function at(offset: number, bytes: Uint8Array): Buffer {
  const b = Buffer.alloc(offset + bytes.length + 3)
  b.set(bytes, offset)
  return b.subarray(offset, offset + bytes.length)
}

function fivePath(c: CryptoSuite, rng: Rng): { path: PathHop[]; sks: Buffer[] } {
  const path: PathHop[] = []
  const sks: Buffer[] = []
  for (let i = 0; i < 5; i++) {
    const sk = rng.bytes(32)
    const pk = Buffer.alloc(32)
    c.x25519Base(pk, sk)
    sks.push(sk)
    path.push({
      id: rng.bytes(32),
      publicKey: pk,
      commands:
        i < 4
          ? [{ type: 'node_delay', delayMs: 10 * i }]
          : [
              { type: 'node_delay', delayMs: 40 },
              { type: 'recipient', id: rng.bytes(32) }
            ]
    })
  }
  return { path, sks }
}

describe('crypto bindings', function () {
  let native: CryptoSuite
  let wasm: CryptoSuite
  let browser: CryptoSuite
  before(async function () {
    native = await loadCrypto('sodium-native')
    wasm = await loadCrypto('libsodium-wrappers')
    browser = await loadCrypto('browser')
  })

  it('loads each binding by name and prefers the native one by default', async function () {
    assert.equal(native.name, 'sodium-native')
    assert.equal(wasm.name, 'libsodium-wrappers')
    assert.equal(browser.name, 'browser')
    assert.equal((await createBrowserCrypto()).name, 'browser')
    assert.equal((await loadCrypto()).name, 'sodium-native')
  })

  it('rejects an unknown binding name with MIX_NO_BINDING', async function () {
    await assert.rejects(
      loadCrypto('nope' as 'sodium-native'),
      (e: unknown) => e instanceof MixError && e.code === 'MIX_NO_BINDING'
    )
  })

  it('gives identical bytes for every libsodium primitive on the same inputs', function () {
    for (const other of [wasm, browser]) {
      const rng = deterministicRng(native, 'bindings')
      for (let round = 0; round < 20; round++) {
        const sk = rng.bytes(32)
        const pk = rng.bytes(32)
        const msg = rng.bytes(1 + round * 37)
        const key = rng.bytes(32)
        const a = Buffer.alloc(32)
        const b = Buffer.alloc(32)
        assert.equal(native.x25519(a, sk, pk), other.x25519(b, sk, pk))
        assert.deepEqual(a, b)
        native.x25519Base(a, sk)
        other.x25519Base(b, sk)
        assert.deepEqual(a, b)
        const s1 = Buffer.alloc(msg.length)
        const s2 = Buffer.alloc(msg.length)
        native.chacha20Xor(s1, msg, key)
        other.chacha20Xor(s2, msg, key)
        assert.deepEqual(s1, s2)
        const k64 = rng.bytes(64)
        native.blake2b(a, msg, k64)
        other.blake2b(b, msg, k64)
        assert.deepEqual(a, b)
        native.blake2b(a, msg)
        other.blake2b(b, msg)
        assert.deepEqual(a, b)
        const d1 = Buffer.alloc(24)
        const d2 = Buffer.alloc(24)
        native.kdfDerive(d1, round + 1, 'MXSSeph1', key)
        other.kdfDerive(d2, round + 1, 'MXSSeph1', key)
        assert.deepEqual(d1, d2)
        const seed = rng.bytes(32)
        const kp1 = native.signSeedKeypair(seed)
        const kp2 = other.signSeedKeypair(seed)
        assert.deepEqual(Buffer.from(kp1.publicKey), Buffer.from(kp2.publicKey))
        assert.deepEqual(Buffer.from(kp1.secretKey), Buffer.from(kp2.secretKey))
        const sig = native.signDetached(msg, kp1.secretKey)
        assert.deepEqual(Buffer.from(sig), Buffer.from(other.signDetached(msg, kp2.secretKey)))
        assert.ok(other.verifyDetached(sig, msg, kp1.publicKey))
        const nonce = rng.bytes(24)
        const ad = rng.bytes(7)
        const ct = native.aeadEncrypt(msg, ad, nonce, key)
        assert.deepEqual(Buffer.from(ct), Buffer.from(other.aeadEncrypt(msg, ad, nonce, key)))
        assert.deepEqual(Buffer.from(other.aeadDecrypt(ct, ad, nonce, key) ?? []), msg)
        const bsk = rng.bytes(32)
        const bpk = Buffer.alloc(32)
        native.x25519Base(bpk, bsk)
        assert.deepEqual(Buffer.from(other.boxSealOpen(native.boxSeal(msg, bpk), bpk, bsk) ?? []), msg)
        assert.deepEqual(Buffer.from(native.boxSealOpen(other.boxSeal(msg, bpk), bpk, bsk) ?? []), msg)
      }
    }
  })

  it('reports a low-order point as false from every binding, never as an exception', function () {
    const out = Buffer.alloc(32)
    for (const c of [native, wasm, browser]) {
      for (const p of LOW_ORDER) assert.equal(c.x25519(out, Buffer.alloc(32, 7), hex(p)), false, `${c.name} ${p}`)
    }
  })

  it('unwraps the first hop of every Katzenpost Sphinx case with every binding and gets identical bytes', function () {
    requireVectors(this, 'katzenpost/testdata/sphinx_vectors.json')
    const cases = loadVectors<Array<{ Nodes: Array<{ PrivateKey: string }>; Packets: string[] }>>(
      'katzenpost/testdata/sphinx_vectors.json'
    )
    for (const c of cases) {
      const pkt = hex(c.Packets[0]!)
      const outs = [native, wasm, browser].map(cr => {
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
      assert.equal(outs[1], outs[0])
      assert.equal(outs[2], outs[0])
      tally('katzenpost sphinx first hops, full bytes identical across bindings')
    }
  })

  it('a packet built with one binding unwraps with the other', function () {
    for (const [make, open] of [
      [native, wasm],
      [native, browser],
      [browser, native]
    ] as const) {
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
      const pkt = new Sphinx(make).createPacket([hop], payload, rng)
      const r = new Sphinx(open).unwrap(pkt, { keys: [sk] })
      assert.equal(r.type, 'deliver', `${make.name} -> ${open.name}`)
      if (r.type === 'deliver') assert.deepEqual(r.payload, payload)
    }
  })
})

describe('the browser binding, byte for byte against sodium-native', function () {
  let native: CryptoSuite
  let browser: CryptoSuite
  let rng: Rng
  before(async function () {
    native = await loadCrypto('sodium-native')
    browser = await loadCrypto('browser')
  })
  beforeEach(function () {
    rng = deterministicRng(native, `browser-vs-native: ${this.currentTest?.title}`)
  })

  /** Runs f on both suites with fresh zeroed outputs of the given sizes and requires identical bytes. */
  function same(outLengths: number[], f: (c: CryptoSuite, ...outs: Buffer[]) => unknown, what: string): void {
    const o1 = outLengths.map(n => Buffer.alloc(n))
    const o2 = outLengths.map(n => Buffer.alloc(n))
    const r1 = f(native, ...o1)
    const r2 = f(browser, ...o2)
    assert.deepEqual(o2, o1, what)
    assert.deepEqual(
      r2 instanceof Uint8Array ? Buffer.from(r2) : r2,
      r1 instanceof Uint8Array ? Buffer.from(r1) : r1,
      what
    )
  }

  it('X25519 and its base-point form on random scalars and points', function () {
    for (let i = 0; i < 50; i++) {
      const sk = rng.bytes(32)
      const pk = rng.bytes(32)
      same([32], (c, out) => c.x25519(out!, sk, pk), `x25519 ${i}`)
      same([32], (c, out) => c.x25519Base(out!, sk), `x25519Base ${i}`)
    }
    for (const p of LOW_ORDER) {
      const out = Buffer.alloc(32, 0xaa)
      assert.equal(browser.x25519(out, rng.bytes(32), hex(p)), false)
      same([32], (c, out) => c.x25519(out!, Buffer.alloc(32, 9), hex(p)), `low order ${p}`)
    }
  })

  it('ChaCha20 (DJB, zero nonce) at every length class, into another buffer, in place and unaligned', function () {
    for (const n of [0, 1, 31, 32, 63, 64, 65, 127, 128, 129, 1000, 2048, 4096]) {
      const key = rng.bytes(32)
      const msg = rng.bytes(n)
      same([n], (c, out) => c.chacha20Xor(out!, msg, key), `chacha20 ${n}`)
      const inPlace = [native, browser].map(c => {
        const b = Buffer.from(msg)
        c.chacha20Xor(b, b, key)
        return b
      })
      assert.deepEqual(inPlace[1], inPlace[0], `chacha20 in place ${n}`)
      const odd = [native, browser].map(c => {
        const b = at(3, msg)
        c.chacha20Xor(b, b, key)
        return Buffer.from(b)
      })
      assert.deepEqual(odd[1], inPlace[0], `chacha20 unaligned in place ${n}`)
      const oddOut = at(1, Buffer.alloc(n))
      browser.chacha20Xor(oddOut, at(2, msg), key)
      assert.deepEqual(Buffer.from(oddOut), inPlace[0], `chacha20 unaligned out ${n}`)
    }
  })

  it('BLAKE2b keyed and unkeyed, and the KDF, at several output lengths', function () {
    for (let i = 0; i < 30; i++) {
      const msg = rng.bytes(i * 29)
      const key = rng.bytes(16 + (i % 49))
      const kdfKey = rng.bytes(32)
      for (const n of [16, 24, 32, 64]) {
        same([n], (c, out) => c.blake2b(out!, msg), `blake2b ${n} ${i}`)
        same([n], (c, out) => c.blake2b(out!, msg, key), `blake2b keyed ${n} ${i}`)
        same([n], (c, out) => c.kdfDerive(out!, i * 1000 + n, 'MXSSsta1', kdfKey), `kdf ${n} ${i}`)
      }
    }
  })

  it('Ed25519 keys and signatures, and every way a signature fails', function () {
    for (let i = 0; i < 20; i++) {
      const seed = rng.bytes(32)
      const msg = rng.bytes(i * 41)
      const k1 = native.signSeedKeypair(seed)
      const k2 = browser.signSeedKeypair(seed)
      assert.deepEqual(Buffer.from(k2.publicKey), Buffer.from(k1.publicKey))
      assert.deepEqual(Buffer.from(k2.secretKey), Buffer.from(k1.secretKey))
      const sig = browser.signDetached(msg, k2.secretKey)
      assert.deepEqual(Buffer.from(sig), Buffer.from(native.signDetached(msg, k1.secretKey)))
      const other = native.signSeedKeypair(rng.bytes(32)).publicKey
      const flipped = Buffer.from(sig)
      flipped[i % 64]! ^= 1
      const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [
        ['valid', sig, msg, k1.publicKey],
        ['flipped signature bit', flipped, msg, k1.publicKey],
        ['other message', sig, Buffer.concat([msg, Buffer.of(0)]), k1.publicKey],
        ['other key', sig, msg, other],
        ['short signature', sig.subarray(0, 63), msg, k1.publicKey],
        ['short key', sig, msg, k1.publicKey.subarray(0, 31)],
        ['zero signature', Buffer.alloc(64), msg, k1.publicKey],
        ['low-order key', sig, msg, Buffer.alloc(32)]
      ]
      for (const [what, s, m, p] of cases) {
        const want = native.verifyDetached(s, m, p)
        assert.equal(want, what === 'valid', what)
        assert.equal(browser.verifyDetached(s, m, p), want, what)
      }
    }
  })

  it('XChaCha20-Poly1305 and sealed boxes, including every way they fail to open', function () {
    for (let i = 0; i < 20; i++) {
      const key = rng.bytes(32)
      const nonce = rng.bytes(24)
      const ad = rng.bytes(i % 3 === 0 ? 0 : i * 5)
      const msg = rng.bytes(i * 53)
      same([], c => c.aeadEncrypt(msg, ad, nonce, key), `aead ${i}`)
      const ct = native.aeadEncrypt(msg, ad, nonce, key)
      same([], c => c.aeadDecrypt(ct, ad, nonce, key), `aead open ${i}`)
      const tampered = Buffer.from(ct)
      tampered[i % ct.length]! ^= 0x80
      for (const [what, args] of [
        ['tampered', [tampered, ad, nonce, key]],
        ['other ad', [ct, Buffer.concat([ad, Buffer.of(1)]), nonce, key]],
        ['other key', [ct, ad, nonce, rng.bytes(32)]],
        ['other nonce', [ct, ad, rng.bytes(24), key]],
        ['shorter than the tag', [ct.subarray(0, 15), ad, nonce, key]]
      ] as Array<[string, [Uint8Array, Uint8Array, Uint8Array, Uint8Array]]>) {
        assert.equal(native.aeadDecrypt(...args), null, what)
        assert.equal(browser.aeadDecrypt(...args), null, what)
      }

      const sk = rng.bytes(32)
      const pk = Buffer.alloc(32)
      native.x25519Base(pk, sk)
      const fromNative = native.boxSeal(msg, pk)
      const fromBrowser = browser.boxSeal(msg, pk)
      assert.equal(fromBrowser.length, msg.length + 48)
      assert.deepEqual(Buffer.from(browser.boxSealOpen(fromNative, pk, sk) ?? []), msg)
      assert.deepEqual(Buffer.from(native.boxSealOpen(fromBrowser, pk, sk) ?? []), msg)
      const badBox = Buffer.from(fromNative)
      badBox[badBox.length - 1]! ^= 1
      for (const [what, args] of [
        ['tampered', [badBox, pk, sk]],
        ['other key', [fromNative, pk, rng.bytes(32)]],
        ['shorter than the overhead', [fromNative.subarray(0, 47), pk, sk]]
      ] as Array<[string, [Uint8Array, Uint8Array, Uint8Array]]>) {
        assert.equal(native.boxSealOpen(...args), null, what)
        assert.equal(browser.boxSealOpen(...args), null, what)
      }
    }
  })

  it('constant-time equality and the CSPRNG', function () {
    const a = rng.bytes(32)
    for (const [x, y] of [
      [a, Buffer.from(a)],
      [a, rng.bytes(32)],
      [a, a.subarray(0, 31)],
      [Buffer.alloc(0), Buffer.alloc(0)]
    ] as Array<[Uint8Array, Uint8Array]>)
      assert.equal(browser.equal(x, y), native.equal(x, y))
    const r1 = Buffer.alloc(64)
    const r2 = Buffer.alloc(64)
    browser.randomFill(r1)
    browser.randomFill(r2)
    assert.notDeepEqual(r1, Buffer.alloc(64))
    assert.notDeepEqual(r1, r2)
  })

  it('HMAC-SHA256 over one or several parts, for keys shorter and longer than the block', function () {
    for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 100, 200]) {
      for (let i = 0; i < 5; i++) {
        const key = rng.bytes(keyLength)
        const parts = [rng.bytes(i * 31), rng.bytes(0), rng.bytes(64), rng.bytes(i + 1)]
        same([], c => c.hmacSha256(key, parts[0]!), `hmac one part, key ${keyLength}`)
        same([], c => c.hmacSha256(key, ...parts.slice(0, 2)), `hmac two parts, key ${keyLength}`)
        same([], c => c.hmacSha256(key, ...parts), `hmac four parts, key ${keyLength}`)
        assert.deepEqual(browser.hmacSha256(key, ...parts), native.hmacSha256(key, Buffer.concat(parts)))
        assert.equal(browser.hmacSha256(key, ...parts).length, 32)
      }
    }
  })

  it('HKDF-Expand at several lengths and PRK sizes, and its length bound', function () {
    for (const prkLength of [16, 32, 64, 65, 100]) {
      for (const length of [0, 1, 31, 32, 33, 64, 80, 160, 192, 1000, 8160]) {
        const prk = rng.bytes(prkLength)
        const info = rng.bytes(length % 50)
        same([], c => c.hkdfExpand(prk, info, length), `hkdfExpand prk ${prkLength} length ${length}`)
      }
    }
    for (const c of [native, browser])
      assert.throws(() => c.hkdfExpand(rng.bytes(32), Buffer.alloc(0), 8161), RangeError)
  })

  it('HKDF (extract then expand) with empty, short and long salts and UTF-8 info', function () {
    for (const saltLength of [0, 16, 32, 64, 65, 100]) {
      for (const [info, length] of [
        ['sealmix-lioness-v0', 192],
        ['', 32],
        ['é∑ label', 33],
        ['x'.repeat(300), 1000]
      ] as const) {
        const ikm = rng.bytes(1 + saltLength)
        const salt = rng.bytes(saltLength)
        same([], c => c.hkdf(ikm, salt, info, length), `hkdf salt ${saltLength} info ${info.slice(0, 10)}`)
      }
    }
  })

  it('AES-256-CTR at every length class, with a carrying counter, in place and unaligned', function () {
    const ivs = [
      rng.bytes(16),
      hex('ffffffffffffffffffffffffffffffff'),
      hex('000000000000000000000000fffffffe'),
      hex('00000000000000ffffffffffffffffff')
    ]
    for (const n of [0, 1, 15, 16, 17, 82, 492, 2048]) {
      for (const iv of ivs) {
        const key = rng.bytes(32)
        const msg = rng.bytes(n)
        same([n], (c, out) => c.aes256CtrXor(out!, msg, key, iv), `aes ${n}`)
        const inPlace = [native, browser].map(c => {
          const b = Buffer.from(msg)
          c.aes256CtrXor(b, b, key, iv)
          return b
        })
        assert.deepEqual(inPlace[1], inPlace[0], `aes in place ${n}`)
        const odd = at(1, Buffer.alloc(n))
        browser.aes256CtrXor(odd, at(2, msg), key, iv)
        assert.deepEqual(Buffer.from(odd), inPlace[0], `aes unaligned ${n}`)
        const oddInPlace = at(5, msg)
        browser.aes256CtrXor(oddInPlace, oddInPlace, key, iv)
        assert.deepEqual(Buffer.from(oddInPlace), inPlace[0], `aes unaligned in place ${n}`)
      }
    }
  })

  it('SHA-512/256 across the padding boundaries', function () {
    for (const n of [0, 1, 55, 56, 111, 112, 127, 128, 129, 1000, 4096]) {
      const msg = rng.bytes(n)
      same([], c => c.sha512_256(msg), `sha512_256 ${n}`)
    }
  })

  it('the comparison sees a difference: a wrong key, IV or message gives other bytes (positive control)', function () {
    const key = rng.bytes(32)
    const wrong = Buffer.from(key)
    wrong[31]! ^= 1
    const msg = rng.bytes(100)
    const iv = rng.bytes(16)
    assert.notDeepEqual(browser.hmacSha256(wrong, msg), native.hmacSha256(key, msg))
    assert.notDeepEqual(browser.hkdfExpand(wrong, msg, 160), native.hkdfExpand(key, msg, 160))
    assert.notDeepEqual(browser.hkdf(wrong, iv, 'l', 64), native.hkdf(key, iv, 'l', 64))
    assert.notDeepEqual(browser.sha512_256(msg.subarray(1)), native.sha512_256(msg))
    const a = Buffer.alloc(100)
    const b = Buffer.alloc(100)
    native.chacha20Xor(a, msg, key)
    browser.chacha20Xor(b, msg, wrong)
    assert.notDeepEqual(b, a)
    native.aes256CtrXor(a, msg, key, iv)
    browser.aes256CtrXor(b, msg, key, Buffer.alloc(16))
    assert.notDeepEqual(b, a)
    assert.throws(() => same([], c => c.hmacSha256(c === browser ? wrong : key, msg), 'control'))
  })

  it('builds the same 5-hop packet and SURB from the same seed, and each binding unwraps the other’s', function () {
    const g = makeGeometry({ hops: 5, userPayloadBytes: 2048 })
    const { path, sks } = fivePath(native, rng)
    const payload = rng.bytes(g.userPayloadBytes)
    const [p1, p2] = [native, browser].map(c =>
      new Sphinx(c, g).createPacket(path, payload, deterministicRng(c, 'pkt'))
    )
    assert.deepEqual(p2, p1)
    const [s1, s2] = [native, browser].map(c => new Sphinx(c, g).createSurb(path, deterministicRng(c, 'surb')))
    assert.deepEqual(s2!.surb, s1!.surb)
    for (const [make, open] of [
      [native, browser],
      [browser, native]
    ] as const) {
      let pkt = new Sphinx(make, g).createPacket(path, payload, rng)
      const opener = new Sphinx(open, g)
      for (let i = 0; i < 5; i++) {
        const r = opener.unwrap(pkt, { keys: [sks[i]!] })
        if (i < 4) {
          assert.equal(r.type, 'forward', `${make.name} -> ${open.name}, hop ${i}`)
          if (r.type === 'forward') pkt = r.packet
        } else {
          assert.equal(r.type, 'deliver', `${make.name} -> ${open.name}, last hop`)
          if (r.type === 'deliver') assert.deepEqual(r.payload, payload)
        }
      }
    }
  })
})
