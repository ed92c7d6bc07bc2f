/**
 * Property tests: create/unwrap round trips over random paths and payloads; any
 * single flipped header bit is dropped at the first hop; any flipped body bit is detected at the
 * end; random buffers of every length never crash any parser.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  type CryptoSuite,
  deterministicRng,
  loadCrypto,
  NETWORK_GEOMETRY,
  openIngressPayload,
  openMessage,
  openSubmit,
  openV1,
  openV2,
  parseAck,
  parseBlock,
  parseFragment,
  parseInner,
  parseRoomBatch,
  parseRoomKeyShare,
  parseSenderCert,
  parseServerCert,
  parseSubmit,
  Reassembler,
  type Rng,
  Sphinx,
  type UnwrapResult
} from '../../mix/index.ts'
import { T0, trustOf, xKeyPair } from '../helpers/seal.ts'
import { forwardPath, makeRelays, type Relay, replyPath, route } from '../helpers/sphinx.ts'

const RUNS = 10_000

describe('properties', function () {
  this.timeout(300_000)
  let c: CryptoSuite
  let s: Sphinx
  let rng: Rng
  let relays: Relay[]
  const g = NETWORK_GEOMETRY
  before(async function () {
    c = await loadCrypto('sodium-native')
    s = new Sphinx(c)
    rng = deterministicRng(c, 'properties')
    relays = makeRelays(c, rng, 8)
  })

  const last = (pkt: Buffer, path: Relay[]): UnwrapResult => route(s, path, pkt).at(-1)!

  const pathArb = fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 5 })

  it(`round-trips ${RUNS} random forward packets over random 1-5 hop paths`, function () {
    fc.assert(
      fc.property(
        pathArb,
        fc.uint8Array({ minLength: g.userPayloadBytes, maxLength: g.userPayloadBytes }),
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 5, maxLength: 5 }),
        (idx, payload, delays) => {
          const path = idx.map(i => relays[i]!)
          const recipient = rng.bytes(32)
          const pkt = s.createPacket(forwardPath(path, recipient, delays), payload, rng)
          let p = pkt
          for (let i = 0; i < path.length; i++) {
            const r = s.unwrap(p, { keys: [path[i]!.sk] })
            if (i < path.length - 1) {
              assert.equal(r.type, 'forward')
              if (r.type !== 'forward') return
              assert.deepEqual(r.nextHop, path[i + 1]!.id)
              assert.equal(r.delayMs, delays[i])
              assert.equal(r.packet.length, g.packetBytes)
              p = r.packet
            } else {
              assert.equal(r.type, 'deliver')
              if (r.type !== 'deliver') return
              assert.deepEqual(r.recipient, recipient)
              assert.deepEqual(r.payload, Buffer.from(payload))
            }
          }
        }
      ),
      { numRuns: RUNS }
    )
  })

  it(`round-trips ${RUNS / 10} random SURB replies`, function () {
    fc.assert(
      fc.property(
        pathArb,
        fc.uint8Array({ minLength: g.userPayloadBytes, maxLength: g.userPayloadBytes }),
        (idx, reply) => {
          const path = idx.map(i => relays[i]!)
          const surbId = rng.bytes(16)
          const { surb, token } = s.createSurb(replyPath(path, rng.bytes(32), surbId), rng)
          const r = last(s.packetFromSurb(surb, reply).packet, path)
          assert.equal(r.type, 'surb_reply')
          if (r.type !== 'surb_reply') return
          assert.deepEqual(r.surbId, surbId)
          assert.deepEqual(s.decryptSurbPayload(r.body, token), Buffer.from(reply))
        }
      ),
      { numRuns: RUNS / 10 }
    )
  })

  it(`drops ${RUNS} single header bit flips at the first hop`, function () {
    const pkts = Array.from({ length: 16 }, () =>
      s.createPacket(forwardPath(relays.slice(0, 5), rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
    )
    fc.assert(
      fc.property(fc.nat({ max: 15 }), fc.nat({ max: g.headerBytes * 8 - 1 }), (k, bit) => {
        const b = Buffer.from(pkts[k]!)
        b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7))
        assert.equal(s.unwrap(b, { keys: [relays[0]!.sk] }).type, 'drop', `bit ${bit}`)
      }),
      { numRuns: RUNS }
    )
  })

  it(`detects ${RUNS / 10} single body bit flips at the final hop and in SURB replies`, function () {
    const path = relays.slice(0, 5)
    fc.assert(
      fc.property(fc.nat({ max: g.bodyBytes * 8 - 1 }), fc.nat({ max: 4 }), (bit, at) => {
        const pkt = s.createPacket(forwardPath(path, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
        // flip the bit in front of hop `at`
        let p = pkt
        for (let i = 0; i < at; i++) {
          const r = s.unwrap(p, { keys: [path[i]!.sk] })
          assert.equal(r.type, 'forward')
          if (r.type === 'forward') p = r.packet
        }
        p = Buffer.from(p)
        const off = g.headerBytes + (bit >> 3)
        p[off] = p[off]! ^ (1 << (bit & 7))
        const r = last(p, path.slice(at))
        assert.deepEqual(r.type === 'drop' && r.detail, 'payload_tag')
      }),
      { numRuns: RUNS / 10 }
    )
    fc.assert(
      fc.property(fc.nat({ max: g.bodyBytes * 8 - 1 }), bit => {
        const { surb, token } = s.createSurb(replyPath(path, rng.bytes(32), rng.bytes(16)), rng)
        const { packet } = s.packetFromSurb(surb, rng.bytes(g.userPayloadBytes))
        const off = g.headerBytes + (bit >> 3)
        packet[off] = packet[off]! ^ (1 << (bit & 7))
        const r = last(packet, path)
        assert.equal(r.type, 'surb_reply')
        if (r.type === 'surb_reply') assert.equal(s.decryptSurbPayload(r.body, token), null)
      }),
      { numRuns: RUNS / 10 }
    )
  })

  describe('random buffers never crash a parser', function () {
    const me = (): { x: { publicKey: Buffer; secretKey: Buffer } } => ({
      x: xKeyPair(c, rng) as { publicKey: Buffer; secretKey: Buffer }
    })
    const parsers: Array<[string, (b: Buffer) => unknown]> = []
    before(function () {
      const k = me().x
      const trust = trustOf([])
      const reasm = new Reassembler({ maxMessages: 8, maxBytes: 1 << 16, timeoutMs: 1000 })
      let now = 0
      parsers.push(
        ['Sphinx unwrap', b => s.unwrap(b, { keys: [relays[0]!.sk] })],
        ['command block', b => parseBlock(b)],
        ['ServerCert', b => parseServerCert(b)],
        ['SenderCert', b => parseSenderCert(b)],
        ['inner content', b => parseInner(b)],
        ['envelope v1', b => openV1(c, b, k)],
        ['envelope v2', b => openV2(c, b, k)],
        ['openMessage', b => openMessage(c, b, k, trust, { nowMs: T0 })],
        ['SubmitRequest', b => parseSubmit(b)],
        ['sealed submission', b => openSubmit(c, b, k)],
        ['room batch', b => parseRoomBatch(b)],
        ['room key share', b => parseRoomKeyShare(b)],
        ['fragment', b => parseFragment(b)],
        ['reassembler', b => reasm.add(b, now++)],
        ['SURB reply decryption', b => s.decryptSurbPayload(b, rng.bytes(64 * 3))],
        ['ingress payload', b => openIngressPayload(c, g, b, k)],
        ['ack', b => parseAck(b)]
      )
    })

    it('every length from 0 to 2600 bytes, random contents, with the typical first bytes', function () {
      for (let len = 0; len <= 2600; len++) {
        const b = rng.bytes(len)
        for (const first of [null, 0x00, 0x01, 0x11, 0x22]) {
          if (first !== null && len > 0) b[0] = first
          for (const [name, parse] of parsers) {
            assert.doesNotThrow(() => parse(b), `${name} threw on ${len} bytes`)
          }
        }
      }
    })

    it(`${RUNS} fast-check buffers`, function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 3000, size: 'max' }), u => {
          const b = Buffer.from(u)
          for (const [, parse] of parsers) parse(b)
        }),
        { numRuns: RUNS }
      )
    })

    it('unwrap of random packets of the exact length: always a drop, never a throw', function () {
      for (let i = 0; i < RUNS; i++) {
        const b = rng.bytes(g.packetBytes)
        b[0] = 0
        b[1] = 0
        const r = s.unwrap(b, { keys: [relays[0]!.sk] })
        assert.equal(r.type, 'drop')
      }
    })
  })
})
