/**
 * Padding: Padmé as the paper defines it, the 12% check that tells it from bucket schemes, and the
 * padding benchmark (test/bench/padding.bench.ts) held to the real sealing, fragmentation and
 * Sphinx packets, to its committed results and to the tables of docs/BENCHMARKS.md.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type CryptoSuite,
  deterministicRng,
  encodeInner,
  encodeSubmit,
  fragmentBytes,
  fragmentMessage,
  NETWORK_GEOMETRY as G,
  KIND_TO_DEVICE_V1,
  loadCrypto,
  openMessage,
  openV1,
  Reassembler,
  type Rng,
  Sphinx,
  sealIngressPayload,
  sealMessage,
  sealV1,
  signDelivery,
  unpadBucket
} from '../../mix/index.ts'
import { benchPadding, computePadding, Measurer, markdownTables, resultsFile } from '../bench/padding.bench.ts'
import {
  BUCKETS_TODAY,
  floorLog2,
  maxOverhead,
  PACKET_MESSAGE_BYTES,
  padme,
  padTo,
  SCHEMES,
  UNPADDED
} from '../bench/padding-schemes.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf, xKeyPair } from '../helpers/seal.ts'
import { forwardPath, makeRelays, replyPath } from '../helpers/sphinx.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const range = function* (from: number, to: number): Generator<number> {
  for (let i = from; i <= to; i++) yield i
}

describe('padding', function () {
  describe('Padmé (PURBs, PETS 2019, Algorithm 1)', function () {
    it('gives the lengths worked by hand from E = ⌊log2 L⌋, S = ⌊log2 E⌋ + 1, lastBits = E − S', function () {
      // L: [E, S, lastBits] -> padded
      const known: Array<[number, number]> = [
        [2, 2], // E 1, S 1, 0 bits
        [3, 3],
        [7, 7], // E 2, S 2, 0 bits: below 8 nothing is padded
        [8, 8],
        [9, 10], // E 3, S 2, 1 bit
        [15, 16],
        [17, 18], // E 4, S 3, 1 bit
        [33, 36], // E 5, S 3, 2 bits
        [100, 104], // E 6, S 3, 3 bits
        [129, 144], // E 7, S 3, 4 bits: the largest overhead, 15/129
        [1000, 1024], // E 9, S 4, 5 bits
        [1025, 1088], // E 10, S 4, 6 bits
        [4420, 4608], // E 12, S 4, 8 bits
        [65_537, 67_584], // E 16, S 5, 11 bits
        [2 ** 20 + 1, 2 ** 20 + 2 ** 15], // E 20, S 5, 15 bits
        [2 ** 32 + 1, 2 ** 32 + 2 ** 26] // E 32, S 6, 26 bits: beyond JavaScript's 32-bit bitwise operators
      ]
      for (const [L, want] of known) assert.equal(padme(L), want, `padme(${L})`)
      for (let k = 1; k <= 52; k++) assert.deepEqual([floorLog2(2 ** k - 1), floorLog2(2 ** k)], [k - 1, k], `2^${k}`)
      assert.throws(() => padme(1), RangeError)
      assert.throws(() => padme(2.5), RangeError)
    })

    it('is monotonic, idempotent, and the smallest length ≥ L with its lowest E − S bits zero', function () {
      let last = 0
      for (const L of range(2, 2 ** 18)) {
        const p = padme(L)
        const E = floorLog2(L)
        const step = 2 ** (E - floorLog2(E) - 1)
        assert.ok(p >= last, `not monotonic at ${L}`)
        assert.ok(p >= L && p % step === 0 && p - step < L, `padme(${L}) = ${p}`)
        assert.equal(padme(p), p, `not idempotent at ${L}`)
        last = p
      }
    })

    it('leaks O(log log n): 2^S lengths in each [2^E, 2^(E+1))', function () {
      for (let E = 2; E <= 18; E++) {
        const seen = new Set<number>()
        for (const L of range(2 ** E, 2 ** (E + 1) - 1)) if (padme(L) < 2 ** (E + 1)) seen.add(padme(L))
        assert.equal(seen.size, 2 ** (floorLog2(E) + 1), `E = ${E}`)
      }
    })

    it('adds at most 12% for every L from 2 to 2^20, the most at L = 129; bucket schemes fail the same check', function () {
      const p = maxOverhead(padme, range(2, 2 ** 20))
      assert.ok(p.overhead <= 0.12, `Padmé adds ${p.overhead} at ${p.at}`)
      assert.equal(p.at, 129)
      assert.equal(p.overhead, 15 / 129)
      // The controls: the same check catches today's buckets and powers of two, from 256 bytes on
      // (below it a tiny inner in the 256 bucket would be caught anyway).
      const buckets = maxOverhead(BUCKETS_TODAY.length, range(256, 65_535))
      assert.ok(buckets.overhead > 0.12, 'the check does not catch the buckets')
      assert.deepEqual(buckets, { overhead: 1024 / 256 - 1, at: 256 })
      const pow2 = SCHEMES.find(s => s.id === 'pow2')!
      assert.ok(maxOverhead(pow2.length, range(256, 65_535)).overhead > 0.12, 'the check does not catch powers of two')
      // As every scheme pads an inner: at least the 0x80 byte (the unpadded reference excepted).
      for (const s of SCHEMES)
        for (const raw of [194, 1023, 4095, 40_000])
          assert.ok(s.length(raw) > raw || s === UNPADDED, `${s.id} at ${raw}`)
    })
  })

  describe('the padding benchmark', function () {
    let c: CryptoSuite
    let rng: Rng
    before(async function () {
      c = await loadCrypto('sodium-native')
      rng = deterministicRng(c, 'padding-test')
    })

    it('counts what sealing, fragmenting and building the Sphinx packets really gives', function () {
      const m = new Measurer(c)
      // Fixtures of their own, with the benchmark's ids: sizes depend on lengths, not on keys.
      const hs = makeServer(c, rng, 'example.org')
      const alice = makeDevice(c, rng, '@alice:example.org', 'ALICEDEVIC')
      const bob = makeDevice(c, rng, '@bob:example.org', 'BOBDEVICE1')
      const cert = senderCert(c, hs, alice)
      const cap = c.signSeedKeypair(rng.bytes(32))
      const ingress = xKeyPair(c, rng)
      const s = new Sphinx(c)
      const relays = makeRelays(c, rng, 5)
      const dest = `${bob.userId}/${bob.deviceId}`
      assert.equal(m.dest, dest)
      for (const n of [17, 700, 1000, 4096]) {
        const content = Buffer.alloc(n, 0x62)
        const raw = unpadBucket(
          encodeInner({
            contentType: 8,
            contentHint: 0,
            senderCert: cert.encoded,
            serverCert: hs.cert.encoded,
            groupId: Buffer.alloc(0),
            content
          })
        )!
        for (const scheme of SCHEMES) {
          const want = m.measure(scheme, n)
          let envelope: Buffer
          if (scheme === BUCKETS_TODAY) {
            // As SealmixClient.send seals: the recipient opens and verifies it.
            const msg = { contentType: 8, content, senderCert: cert, serverCert: hs.cert }
            envelope = sealMessage(c, msg, alice.x, bob.x.publicKey, rng)
            const opened = openMessage(c, envelope, bob.x, trustOf([hs]), { nowMs: T0 })
            assert.ok(opened.ok && opened.value.content.equals(content), `${n} B does not open`)
          } else {
            envelope = sealV1(c, padTo(raw, scheme.length(raw.length)), alice.x, bob.x.publicKey, rng)
            const opened = openV1(c, envelope, bob.x)
            assert.ok(opened.ok)
            const back = scheme === UNPADDED ? opened.value.paddedInner : unpad(opened.value.paddedInner)
            assert.ok(back.equals(raw), `${scheme.id}: the padded inner does not give the inner back`)
          }
          const request = encodeSubmit({
            kind: KIND_TO_DEVICE_V1,
            dest,
            envelope,
            auth: signDelivery(c, cap.secretKey, 1, dest, T0, envelope)
          })
          const fragments = fragmentMessage(request, rng.bytes(16), fragmentBytes(G, true))
          const reasm = new Reassembler({ maxMessages: 1, maxBytes: 1 << 20, timeoutMs: 60_000 })
          let wire = 0
          for (const [i, f] of fragments.entries()) {
            const { surb } = s.createSurb(replyPath(relays, rng.bytes(32), rng.bytes(16)), rng)
            const pkt = s.createPacket(
              forwardPath(relays, rng.bytes(32)),
              sealIngressPayload(c, G, f, surb, ingress.publicKey),
              rng
            )
            wire += pkt.length
            const added = reasm.add(f, T0)
            assert.equal(added.status, i === fragments.length - 1 ? 'complete' : 'incomplete')
            if (added.status === 'complete') assert.ok(added.message.equals(request))
          }
          const at = `${scheme.id}, ${n} B`
          assert.equal(want.envelopeBytes, envelope.length, `${at}: envelope bytes`)
          assert.equal(want.requestBytes, request.length, `${at}: SubmitRequest bytes`)
          assert.equal(want.packets, fragments.length, `${at}: packets`)
          assert.equal(want.wireBytes, wire, `${at}: bytes on the wire`)
          assert.ok(request.length <= fragments.length * PACKET_MESSAGE_BYTES)
        }
      }
    })

    it('is what docs/results/2026-12-01/padding.json and docs/BENCHMARKS.md say', async function () {
      const file = 'docs/results/2026-12-01/padding.json'
      const saved = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as object
      assert.deepEqual(
        saved,
        JSON.parse(JSON.stringify(await resultsFile())),
        `${file} is not what the benchmark gives`
      )
      const doc = readFileSync(join(ROOT, 'docs/BENCHMARKS.md'), 'utf8')
      for (const t of markdownTables(await computePadding()))
        assert.ok(doc.includes(t), `docs/BENCHMARKS.md does not hold this table:\n${t}`)
      // run.ts's rows (npm run bench -- padding) come from the same figures.
      const rows = await benchPadding()
      const chat = (await computePadding()).variants[0]!
      for (const r of chat.rows)
        assert.equal(rows.find(x => x.name === `padding/chat/${r.scheme}: packets a message`)?.ratio, r.packetRatio)
    })
  })
})

/** The protocol's unpadding (0x80 then zeros), for lengths that are not buckets. */
function unpad(b: Buffer): Buffer {
  let i = b.length - 1
  while (i >= 0 && b[i] === 0) i--
  assert.equal(b[i], 0x80)
  return b.subarray(0, i)
}
