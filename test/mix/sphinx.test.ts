import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  deterministicRng,
  encodeGeometry,
  geometryHash,
  loadCrypto,
  MixError,
  makeGeometry,
  NETWORK_GEOMETRY,
  type Rng,
  Sphinx,
  type UnwrapResult
} from '../../mix/index.ts'
import { forwardPath, makeRelays, oneHopWithBlock, type Relay, replyPath, route, setReplay } from '../helpers/sphinx.ts'

function expectDrop(r: UnwrapResult, reason: string, detail: string): void {
  assert.equal(r.type, 'drop', `expected a drop, got ${r.type}`)
  if (r.type === 'drop') assert.deepEqual([r.reason, r.detail], [reason, detail])
}

describe('Sphinx', function () {
  let c: CryptoSuite
  let s: Sphinx
  let rng: Rng
  let relays: Relay[]
  const g = NETWORK_GEOMETRY
  before(async function () {
    c = await loadCrypto('sodium-native')
    s = new Sphinx(c)
    rng = deterministicRng(c, 'sphinx-unit')
    relays = makeRelays(c, rng, 5)
  })

  describe('geometry', function () {
    it('has the sizes of docs/PROTOCOL.md §2 for r = 5, U = 2048', function () {
      assert.deepEqual(
        [g.headerBytes, g.bodyBytes, g.packetBytes, g.surbBytes, g.macOffset],
        [476, 2080, 2556, 572, 444]
      )
      const r3 = makeGeometry({ hops: 3, userPayloadBytes: 2048 })
      assert.deepEqual([r3.headerBytes, r3.packetBytes, r3.surbBytes], [312, 2392, 408])
    })
    it('names each geometry by a hash of its parameters and format', function () {
      const h = geometryHash(c, g)
      assert.equal(h.length, 32)
      assert.deepEqual(geometryHash(c, { hops: 5, userPayloadBytes: 2048 }), h)
      assert.notDeepEqual(geometryHash(c, { hops: 5, userPayloadBytes: 2047 }), h)
      assert.notDeepEqual(geometryHash(c, { hops: 4, userPayloadBytes: 2048 }), h)
      assert.equal(encodeGeometry(g).subarray(-5).toString('hex'), '0500000800')
    })
    it('refuses a geometry outside its range, naming the field', function () {
      assert.throws(() => makeGeometry({ hops: 0, userPayloadBytes: 10 }), {
        code: 'MIX_BAD_ARGUMENT',
        message: 'MIX_BAD_ARGUMENT: geometry.hops must be an integer in 1..16 (got 0)'
      })
      assert.throws(() => makeGeometry({ hops: 5, userPayloadBytes: 1.5 }), { code: 'MIX_BAD_ARGUMENT' })
    })
  })

  describe('#createPacket and #unwrap', function () {
    for (let n = 1; n <= 5; n++) {
      it(`routes a ${n}-hop packet hop by hop and delivers the payload`, function () {
        const recipient = rng.bytes(32)
        const payload = rng.bytes(g.userPayloadBytes)
        const path = relays.slice(0, n)
        const pkt = s.createPacket(
          forwardPath(
            path,
            recipient,
            path.map((_, i) => 100 * (i + 1))
          ),
          payload,
          rng
        )
        assert.equal(pkt.length, g.packetBytes)
        const res = route(s, path, pkt)
        assert.equal(res.length, n)
        for (let i = 0; i < n - 1; i++) {
          const r = res[i]!
          assert.equal(r.type, 'forward')
          if (r.type !== 'forward') return
          assert.deepEqual(r.nextHop, relays[i + 1]!.id)
          assert.equal(r.delayMs, 100 * (i + 1))
          assert.equal(r.packet.length, g.packetBytes, 'a forwarded packet keeps the length')
        }
        const last = res[n - 1]!
        assert.equal(last.type, 'deliver')
        if (last.type !== 'deliver') return
        assert.deepEqual(last.recipient, recipient)
        assert.equal(last.delayMs, 100 * n)
        assert.deepEqual(last.payload, payload)
      })
    }

    it('gives a replay tag per hop and drops the second copy when a replay check is passed', function () {
      const pkt = s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      const replay = setReplay()
      const first = s.unwrap(pkt, { keys: [relays[0]!.sk], replay })
      assert.equal(first.type, 'forward')
      if (first.type === 'forward') assert.equal(first.replayTag.length, 32)
      expectDrop(s.unwrap(pkt, { keys: [relays[0]!.sk], replay }), 'replay', 'replay')
      assert.equal(replay.size(), 1)
    })

    it('opens a packet with the previous key within the grace window and says which key', function () {
      const old = relays[0]!
      const pkt = s.createPacket(forwardPath([old], rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      const current = makeRelays(c, rng, 1)[0]!
      const r = s.unwrap(pkt, { keys: [current.sk, old.sk] })
      assert.equal(r.type, 'deliver')
      if (r.type === 'deliver') assert.equal(r.keyIndex, 1)
      expectDrop(s.unwrap(pkt, { keys: [current.sk] }), 'mac', 'mac_mismatch')
    })

    it('drops wrong lengths as malformed', function () {
      const pkt = s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      for (const b of [Buffer.alloc(0), pkt.subarray(0, pkt.length - 1), Buffer.concat([pkt, Buffer.alloc(1)])]) {
        expectDrop(s.unwrap(b, { keys: [relays[0]!.sk] }), 'malformed', 'bad_length')
      }
    })

    it('drops an unknown version, and a flipped bit in α, β or γ, before any other work', function () {
      const pkt = s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      const flip = (off: number): Buffer => {
        const b = Buffer.from(pkt)
        b[off] = b[off]! ^ 1
        return b
      }
      expectDrop(s.unwrap(flip(1), { keys: [relays[0]!.sk] }), 'malformed', 'bad_version')
      for (const off of [2, 33, 34, 200, 443, 444, 475]) {
        const r = s.unwrap(flip(off), { keys: [relays[0]!.sk] })
        assert.equal(r.type, 'drop', `bit flip at ${off}`)
        if (r.type === 'drop')
          assert.ok(r.reason === 'mac' || r.detail === 'low_order_point', `flip at ${off}: ${r.detail}`)
      }
    })

    it('detects a flipped payload bit at the final hop (LIONESS garbles the zero tag)', function () {
      const pkt = s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      pkt[g.headerBytes + 1000] = pkt[g.headerBytes + 1000]! ^ 0x80
      const res = route(s, relays, pkt)
      assert.equal(res.length, 5)
      expectDrop(res[4]!, 'malformed', 'payload_tag')
    })

    it('drops low-order α (all zero, and a point of order 8) as malformed, without throwing', function () {
      const pkt = s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng)
      for (const point of [
        '00'.repeat(32),
        '01' + '00'.repeat(31),
        'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'
      ]) {
        const b = Buffer.from(pkt)
        Buffer.from(point, 'hex').copy(b, 2)
        expectDrop(s.unwrap(b, { keys: [relays[0]!.sk] }), 'malformed', 'low_order_point')
      }
    })

    it('applies the role rule: forward needs node_delay, delivery needs node_delay + recipient', function () {
      const noDelay = s.createPacket(
        [
          { id: relays[0]!.id, publicKey: relays[0]!.pk, commands: [] },
          { id: relays[1]!.id, publicKey: relays[1]!.pk, commands: [{ type: 'recipient', id: rng.bytes(32) }] }
        ],
        rng.bytes(g.userPayloadBytes),
        rng
      )
      expectDrop(s.unwrap(noDelay, { keys: [relays[0]!.sk] }), 'malformed', 'illegal_combination')
      const r = s.unwrap(noDelay, { keys: [relays[0]!.sk], strictCombinations: false })
      assert.equal(r.type, 'forward')
      if (r.type !== 'forward') return
      expectDrop(s.unwrap(r.packet, { keys: [relays[1]!.sk] }), 'malformed', 'illegal_combination')
      assert.equal(s.unwrap(r.packet, { keys: [relays[1]!.sk], strictCombinations: false }).type, 'deliver')
    })

    it('drops a delay above maxDelayMs', function () {
      const pkt = s.createPacket(
        forwardPath(relays.slice(0, 2), rng.bytes(32), [5000, 1]),
        rng.bytes(g.userPayloadBytes),
        rng
      )
      expectDrop(s.unwrap(pkt, { keys: [relays[0]!.sk], maxDelayMs: 4999 }), 'malformed', 'delay_too_long')
      assert.equal(s.unwrap(pkt, { keys: [relays[0]!.sk], maxDelayMs: 5000 }).type, 'forward')
    })

    describe('strict parsing of the command block (valid MAC, bad block)', function () {
      const recip = Buffer.concat([Buffer.of(0x02), Buffer.alloc(32, 9)])
      const delay = Buffer.from('8000000005', 'hex')
      const surb = Buffer.concat([Buffer.of(0x03), Buffer.alloc(16, 3)])
      const block = (...parts: Buffer[]): Buffer => {
        const b = Buffer.alloc(82)
        Buffer.concat(parts).copy(b)
        return b
      }
      const cases: Array<[string, Buffer, string]> = [
        ['unknown tag', block(Buffer.of(0x42)), 'unknown_command'],
        [
          'non-zero byte after the terminator',
          (() => {
            const b = block(delay, recip)
            b[81] = 1
            return b
          })(),
          'nonzero_padding'
        ],
        [
          'a non-zero byte far after the terminator',
          (() => {
            const b = Buffer.alloc(82)
            b[80] = 0x80
            return b.fill(0x80, 0, 1)
          })(),
          'nonzero_padding'
        ],
        [
          'a next_node_hop running past the end of the block',
          block(delay, recip, surb, Buffer.of(0x01)),
          'truncated_command'
        ],
        ['repeated node_delay', block(delay, delay, recip), 'repeated_command'],
        ['repeated surb_reply', block(recip, surb, surb), 'repeated_command'],
        ['an unknown tag after valid commands', block(delay, recip, Buffer.of(0x7f)), 'unknown_command'],
        ['recipient without node_delay', block(recip), 'illegal_combination'],
        ['surb_reply with node_delay', block(delay, recip, surb), 'illegal_combination'],
        ['nothing at all', block(), 'illegal_combination']
      ]
      for (const [name, b, detail] of cases) {
        it(`drops ${name} (${detail})`, function () {
          expectDrop(s.unwrap(oneHopWithBlock(s, relays[0]!, b, rng), { keys: [relays[0]!.sk] }), 'malformed', detail)
        })
      }
      it('accepts the same fixture with a legal block (the fixture itself is sound)', function () {
        const r = s.unwrap(oneHopWithBlock(s, relays[0]!, block(delay, recip), rng), { keys: [relays[0]!.sk] })
        expectDrop(r, 'malformed', 'payload_tag') // a random body cannot carry the zero tag
        const r2 = s.unwrap(oneHopWithBlock(s, relays[0]!, block(recip, surb), rng), { keys: [relays[0]!.sk] })
        assert.equal(r2.type, 'surb_reply')
      })
    })

    it('refuses bad creator arguments with stable codes', function () {
      const six = makeRelays(c, rng, 6)
      assert.throws(
        () => s.createPacket(forwardPath(six, rng.bytes(32)), rng.bytes(g.userPayloadBytes), rng),
        (e: unknown) =>
          e instanceof MixError &&
          e.code === 'MIX_PATH_TOO_LONG' &&
          e.message === 'MIX_PATH_TOO_LONG: a path of 6 hops does not fit a header of 5 hops'
      )
      assert.throws(() => s.createPacket(forwardPath(relays, rng.bytes(32)), rng.bytes(10), rng), {
        code: 'MIX_PAYLOAD_SIZE',
        message: 'MIX_PAYLOAD_SIZE: payload must be exactly 2048 bytes (got 10)'
      })
      assert.throws(
        () =>
          s.createPacket(
            [
              {
                id: relays[0]!.id,
                publicKey: relays[0]!.pk,
                commands: [{ type: 'next_node_hop', id: rng.bytes(32), mac: rng.bytes(32) }]
              }
            ],
            rng.bytes(g.userPayloadBytes),
            rng
          ),
        { code: 'MIX_BAD_COMMANDS' }
      )
      const full = [
        { type: 'node_delay' as const, delayMs: 1 },
        { type: 'recipient' as const, id: rng.bytes(32) },
        { type: 'surb_reply' as const, id: rng.bytes(16) }
      ]
      assert.throws(
        () =>
          s.createPacket(
            [
              { id: relays[0]!.id, publicKey: relays[0]!.pk, commands: full },
              { id: relays[1]!.id, publicKey: relays[1]!.pk, commands: [] }
            ],
            rng.bytes(g.userPayloadBytes),
            rng
          ),
        { code: 'MIX_BAD_COMMANDS', message: 'MIX_BAD_COMMANDS: commands take 120 bytes; a hop has 82' }
      )
    })
  })

  describe('SURBs', function () {
    it('carries a reply back along the reply path to its creator', function () {
      const mailbox = rng.bytes(32)
      const surbId = rng.bytes(16)
      const { surb, token, firstHop } = s.createSurb(replyPath(relays, mailbox, surbId), rng)
      assert.equal(surb.length, g.surbBytes)
      assert.equal(token.length, 64 * 6)
      assert.deepEqual(firstHop, relays[0]!.id)
      const reply = rng.bytes(g.userPayloadBytes)
      const { packet, firstHop: to } = s.packetFromSurb(surb, reply)
      assert.deepEqual(to, relays[0]!.id)
      const res = route(s, relays, packet)
      const last = res[4]!
      assert.equal(last.type, 'surb_reply')
      if (last.type !== 'surb_reply') return
      assert.deepEqual(last.recipient, mailbox)
      assert.deepEqual(last.surbId, surbId)
      const tokenCopy = Buffer.from(token)
      assert.deepEqual(s.decryptSurbPayload(last.body, token), reply)
      assert.ok(
        token.every(b => b === 0),
        'the token is wiped after use'
      )
      const tampered = Buffer.from(last.body)
      tampered[500] = tampered[500]! ^ 1
      assert.equal(s.decryptSurbPayload(tampered, Buffer.from(tokenCopy)), null)
      const other = s.createSurb(replyPath(relays, mailbox, surbId), rng)
      assert.equal(s.decryptSurbPayload(last.body, other.token), null, "another SURB's token does not open the reply")
    })

    it('rejects a token of the wrong shape and a SURB of the wrong size', function () {
      assert.equal(s.decryptSurbPayload(Buffer.alloc(g.bodyBytes), Buffer.alloc(64)), null)
      assert.equal(s.decryptSurbPayload(Buffer.alloc(g.bodyBytes), Buffer.alloc(100)), null)
      assert.equal(s.decryptSurbPayload(Buffer.alloc(10), Buffer.alloc(128)), null)
      assert.throws(() => s.packetFromSurb(Buffer.alloc(10), Buffer.alloc(g.userPayloadBytes)), {
        code: 'MIX_BAD_ARGUMENT'
      })
    })
  })
})
